//! Provider failures: failover, circuit breaking, apology, mid-stream breaks.

use crate::*;

#[tokio::test]
async fn fails_over_when_the_first_provider_answers_500_or_429() {
    for status in [500, 429] {
        let primary = OpenAiServer::with_script([Scripted::status(status)]).await;
        let backup = OpenAiServer::with_script([Scripted::text("Backup here.")]).await;
        let agent = agent(
            vec![provider("primary", &primary), provider("backup", &backup)],
            vec![],
        );
        let events = run(&brain(), &agent, &conversation()).await;

        let failed = failures(&events);
        assert_eq!(failed.len(), 1);
        assert!(
            matches!(failed[0], ("primary", BrainError::Status { status: s, body }, false) if *s == status && body.contains("scripted failure"))
        );
        assert_eq!(text(&events), "Backup here.");
        assert_eq!(summary(&events).provider.as_deref(), Some("backup"));
        assert_eq!(
            backup.requests()[0].authorization.as_deref(),
            Some("Bearer sk-backup")
        );
    }
}

#[tokio::test]
async fn fails_over_when_the_first_provider_sends_no_first_token_in_time() {
    tokio::time::pause();
    let primary = OpenAiServer::with_script([Scripted::hang()]).await;
    let backup = OpenAiServer::with_script([Scripted::text("Backup here.")]).await;
    let agent = agent(
        vec![provider("primary", &primary), provider("backup", &backup)],
        vec![],
    );
    let started = tokio::time::Instant::now();
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(
        failures(&events),
        [(
            "primary",
            &BrainError::FirstTokenTimeout(Duration::from_secs(2)),
            false
        )]
    );
    assert_eq!(text(&events), "Backup here.");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up on the primary at its deadline"
    );
    primary.wait_for_dropped_streams(1).await;
}

#[tokio::test]
async fn circuit_opens_after_repeated_failures_and_probes_after_the_open_period() {
    tokio::time::pause();
    let primary = OpenAiServer::with_script([Scripted::status(500), Scripted::status(500)]).await;
    let backup = OpenAiServer::start().await;
    let agent = agent(
        vec![provider("primary", &primary), provider("backup", &backup)],
        vec![],
    );
    let brain = Brain::new(
        BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(30),
        },
        &loopback(),
    )
    .expect("brain");

    for _ in 0..2 {
        backup.push(Scripted::text("Backup."));
        run(&brain, &agent, &conversation()).await;
    }
    assert!(matches!(
        brain.breaker_state("primary"),
        BreakerState::Open { .. }
    ));

    backup.push(Scripted::text("Backup."));
    let events = run(&brain, &agent, &conversation()).await;
    assert_eq!(
        primary.request_count(),
        2,
        "an open breaker skips the provider"
    );
    assert_eq!(
        failures(&events),
        [("primary", &BrainError::CircuitOpen, false)]
    );
    assert_eq!(text(&events), "Backup.");

    tokio::time::advance(Duration::from_secs(31)).await;
    primary.push(Scripted::text("Primary is back."));
    let events = run(&brain, &agent, &conversation()).await;
    assert_eq!(
        primary.request_count(),
        3,
        "after the open period one probe goes through"
    );
    assert_eq!(text(&events), "Primary is back.");
    assert_eq!(
        brain.breaker_state("primary"),
        BreakerState::Closed {
            consecutive_failures: 0
        }
    );
}

#[tokio::test]
async fn all_providers_failing_yields_the_apology() {
    tokio::time::pause();
    let primary = OpenAiServer::with_script([Scripted::status(503)]).await;
    let backup = OpenAiServer::with_script([Scripted::hang()]).await;
    let agent = agent(
        vec![provider("primary", &primary), provider("backup", &backup)],
        vec![],
    );
    let events = run(&brain(), &agent, &conversation()).await;

    let failed = failures(&events);
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed[1],
        (
            "backup",
            &BrainError::FirstTokenTimeout(Duration::from_secs(2)),
            false
        )
    );
    assert!(events.contains(&BrainEvent::Apology("Sorry, one moment please.".into())));
    assert!(!events.iter().any(|e| matches!(e, BrainEvent::Usage { .. })));
    let done = summary(&events);
    assert_eq!(done.finish, Finish::AllProvidersFailed);
    assert_eq!(
        done.turns,
        [Turn::Assistant("Sorry, one moment please.".into())]
    );
}

#[tokio::test]
async fn a_failure_after_text_was_streamed_ends_the_reply_without_failover() {
    let primary =
        OpenAiServer::with_script([Scripted::text("The weather in Oslo is").drop_after(3)]).await;
    let backup = OpenAiServer::start().await;
    let agent = agent(
        vec![provider("primary", &primary), provider("backup", &backup)],
        vec![],
    );
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(text(&events), "The weather in ");
    let failed = failures(&events);
    assert!(
        matches!(failed[..], [("primary", BrainError::Stream(_), true)]),
        "{failed:?}"
    );
    assert_eq!(
        backup.request_count(),
        0,
        "no second voice after the caller heard the first"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        BrainEvent::Usage {
            estimated: true,
            ..
        }
    )));
    let done = summary(&events);
    assert_eq!(done.finish, Finish::ProviderFailed);
    assert_eq!(done.turns, [Turn::Assistant("The weather in ".into())]);
}
