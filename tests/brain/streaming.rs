//! Text streaming, cancellation, usage and trimming as seen on the wire.

use crate::*;

#[tokio::test]
async fn text_streams_in_order_before_the_provider_finishes() {
    tokio::time::pause();
    let server = OpenAiServer::with_script([Scripted::tokens([
        "Hello",
        " there",
        ", it's",
        " sunny",
        " \"today\".",
    ])
    .first_token_delay(Duration::from_millis(800))
    .token_delay(Duration::from_millis(150))])
    .await;
    let agent = agent(vec![provider("openai", &server)], vec![]);
    let mut reply = brain().reply(agent, &conversation(), CancellationToken::new());

    let first = reply.next().await;
    assert_eq!(first, Some(BrainEvent::TextDelta("Hello".into())));
    assert_eq!(
        server.completed_streams(),
        0,
        "the first token is handed on while the rest streams"
    );

    let rest: Vec<BrainEvent> = reply.collect().await;
    assert_eq!(text(&rest), " there, it's sunny \"today\".");
    assert!(rest.contains(&BrainEvent::Usage {
        prompt_tokens: 42,
        completion_tokens: 5,
        estimated: false
    }));
    let done = summary(&rest);
    assert_eq!(done.finish, Finish::Stop);
    assert_eq!(done.provider.as_deref(), Some("openai"));
    assert_eq!(
        done.turns,
        [Turn::Assistant("Hello there, it's sunny \"today\".".into())]
    );

    let request = &server.requests()[0];
    assert_eq!(request.authorization.as_deref(), Some("Bearer sk-openai"));
    assert_eq!(request.body["model"], "openai-model");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert!((request.body["temperature"].as_f64().unwrap_or(0.0) - 0.3).abs() < 1e-6);
    assert!(
        request.body.get("tools").is_none(),
        "no tools configured, none offered"
    );
    let roles: Vec<&str> = request
        .messages()
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["system", "assistant", "user"]);
}

/// A provider that keeps talking for 4 s (200 tokens, 20 ms apart, in real time), so a closed
/// connection seen within 2 s can only come from the client giving up.
async fn long_reply() -> (OpenAiServer, Arc<AgentSpec>) {
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    let script = Scripted::tokens(words).token_delay(Duration::from_millis(20));
    let server = OpenAiServer::with_script([script]).await;
    let agent = agent(vec![provider("openai", &server)], vec![]);
    (server, agent)
}

async fn assert_connection_closed(server: &OpenAiServer) {
    tokio::time::timeout(Duration::from_secs(2), server.wait_for_dropped_streams(1))
        .await
        .expect("the provider sees the connection close");
    assert_eq!(server.completed_streams(), 0);
}

#[tokio::test]
async fn cancelling_stops_the_stream_and_closes_the_connection_at_once() {
    let (server, agent) = long_reply().await;
    let cancel = CancellationToken::new();
    let mut reply = brain().reply(agent, &conversation(), cancel.clone());
    for _ in 0..3 {
        assert!(matches!(reply.next().await, Some(BrainEvent::TextDelta(_))));
    }
    cancel.cancel();
    assert_eq!(reply.next().await, None, "nothing more after a barge-in");
    assert_connection_closed(&server).await;
}

#[tokio::test]
async fn cancelling_closes_the_connection_even_while_nobody_polls_the_reply() {
    let (server, agent) = long_reply().await;
    let cancel = CancellationToken::new();
    let mut reply = brain().reply(agent, &conversation(), cancel.clone());
    assert!(matches!(reply.next().await, Some(BrainEvent::TextDelta(_))));
    cancel.cancel();
    assert_connection_closed(&server).await;
    drop(reply);
}

#[tokio::test]
async fn dropping_the_reply_closes_the_connection() {
    let (server, agent) = long_reply().await;
    let mut reply = brain().reply(agent, &conversation(), CancellationToken::new());
    assert!(matches!(reply.next().await, Some(BrainEvent::TextDelta(_))));
    drop(reply);
    assert_connection_closed(&server).await;
}

#[tokio::test]
async fn usage_is_estimated_when_the_provider_sends_none() {
    let server =
        OpenAiServer::with_script([Scripted::text("Twenty one degrees.").without_usage().crlf()])
            .await;
    let mut p = provider("ollama", &server);
    p.api_key = None;
    p.stream_usage = false;
    let agent = agent(vec![p], vec![]);
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(text(&events), "Twenty one degrees.");
    let request = &server.requests()[0];
    assert!(request.body.get("stream_options").is_none());
    assert_eq!(request.authorization, None);
    let usage = events.iter().find_map(|e| match e {
        BrainEvent::Usage {
            prompt_tokens,
            completion_tokens,
            estimated,
        } => Some((*prompt_tokens, *completion_tokens, *estimated)),
        _ => None,
    });
    assert!(matches!(usage, Some((p, 5, true)) if p > 10), "{usage:?}");
}

#[tokio::test]
async fn long_conversations_are_trimmed_keeping_the_system_prompt_and_tool_pairs() {
    let server = OpenAiServer::with_script([Scripted::text("Sure.")]).await;
    let mut c = Conversation::new("You are a test agent.");
    for i in 0..40 {
        c.push_user(format!("question {i} {}", "x".repeat(100)));
        c.push(Turn::ToolRound {
            text: String::new(),
            calls: vec![voxedge::brain::ToolExchange {
                id: format!("call_{i}"),
                name: "get_weather".into(),
                arguments: "{}".into(),
                result: "y".repeat(100),
            }],
        });
        c.push_assistant(format!("answer {i}"));
    }
    c.push_user("the latest question");
    let spec = AgentSpec::new(vec![provider("openai", &server)], ToolSet::empty())
        .expect("agent")
        .with_context_tokens(500);
    run(&brain(), &Arc::new(spec), &c).await;

    let messages = server.requests()[0].messages().to_vec();
    assert!(
        messages.len() < 100,
        "trimmed from 161 messages to {}",
        messages.len()
    );
    assert_eq!(messages[0]["content"], "You are a test agent.");
    assert_eq!(
        messages.last().expect("messages")["content"],
        "the latest question"
    );
    for (i, m) in messages.iter().enumerate() {
        if m["role"] == "tool" {
            assert!(
                messages[..i]
                    .iter()
                    .any(|p| p["tool_calls"][0]["id"] == m["tool_call_id"]),
                "tool result {} without its call",
                m["tool_call_id"]
            );
        }
    }
    assert!(messages[1]["role"] != "tool");
}
