//! Calling windows in each contact's time zone: a window that closes mid-campaign leaves the remaining contacts
//! waiting until it opens again, and a contact whose own zone is twelve hours away is called in its own window.
//! The server clock is moved forward instead of waiting.

use std::time::Duration;

use chrono::{Duration as Span, Timelike, Utc};
use serde_json::json;

use crate::support::twilio::{Callee, FakeTwilio};
use crate::*;

/// An `Etc/GMT` zone `hours` east of UTC.
fn zone(hours: i64) -> String {
    match hours {
        0 => "Etc/GMT".into(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    }
}

#[tokio::test]
async fn a_window_closing_mid_campaign_makes_the_rest_wait_in_their_own_time_zones() {
    // A zone where it is late morning now, so a window from now to 20 minutes from now stays within one day.
    let now = Utc::now();
    let offset = (-12..=14)
        .find(|h| (10..14).contains(&(now + Span::hours(*h)).hour()))
        .unwrap();
    let local = now + Span::hours(offset);
    let start = format!("{:02}:{:02}", local.hour(), local.minute());
    let end_at = local + Span::minutes(20);
    let end = format!("{:02}:{:02}", end_at.hour(), end_at.minute());
    // Twelve hours away, the same window is closed now and opens in twelve hours.
    let far = if offset + 12 <= 14 {
        offset + 12
    } else {
        offset - 12
    };

    let twilio = FakeTwilio::start(Callee::answer(Duration::from_millis(700))).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, quiet_agent()).await;
    let id = create_campaign(
        &server,
        &tenant.key,
        &agent,
        json!({
            "maxConcurrentCalls": 1,
            "timezone": zone(offset),
            "windows": [{ "days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"], "start": start, "end": end }],
        }),
    )
    .await;
    let mut csv = String::from("phone,first_name,timezone\n");
    for i in 0..6 {
        csv.push_str(&format!("{},P{i},\n", number(i)));
    }
    csv.push_str(&format!("{},Far,{}\n", number(6), zone(far)));
    assert_eq!(upload(&server, &tenant.key, &id, &csv).await["added"], 7);
    act(&server, &tenant.key, &id, "start").await;

    // Two calls in, the window closes.
    twilio
        .wait_until(Duration::from_secs(60), "two calls", |t| {
            t.calls().len() >= 2
        })
        .await;
    server.state.clock.advance(Duration::from_secs(21 * 60));
    let waiting = wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(30),
        "the call on to end",
        |c| c["progress"]["inProgress"] == 0,
    )
    .await;
    let placed = twilio.calls().len();
    assert!(
        (2..=3).contains(&placed),
        "{placed} calls before the window closed"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(twilio.calls().len(), placed, "the rest wait for the window");
    assert_eq!(waiting["status"], "RUNNING");
    assert_eq!(
        twilio.placed_to(&number(6)),
        0,
        "the far contact's window was never open"
    );

    // Twelve hours on: the far contact's own window opens; the others still wait.
    server
        .state
        .clock
        .advance(Duration::from_secs(12 * 3600 - 21 * 60));
    twilio
        .wait_until(Duration::from_secs(30), "the far contact", |t| {
            t.placed_to(&number(6)) == 1
        })
        .await;
    wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(30),
        "its call to end",
        |c| c["progress"]["inProgress"] == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(twilio.calls().len(), placed + 1);

    // A day after the start, the window opens again and the campaign finishes.
    server.state.clock.advance(Duration::from_secs(12 * 3600));
    let done = wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(60),
        "completion",
        |c| c["status"] == "COMPLETED",
    )
    .await;
    assert_eq!(done["progress"]["completed"], 7, "{done}");
    for i in 0..7 {
        assert_eq!(twilio.placed_to(&number(i)), 1, "contact {i}");
    }
}
