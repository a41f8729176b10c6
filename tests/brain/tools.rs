//! Tool calls: webhooks, argument validation, call control and round limits.

use crate::*;

#[tokio::test]
async fn tool_call_reaches_the_webhook_and_its_result_goes_back_to_the_model() {
    tokio::time::pause();
    let hook = Hook::start().await;
    let server = OpenAiServer::with_script([
        Scripted::text("Let me check. ")
            .and_tool_call("get_weather", json!({"city": "Oslo", "days": 1})),
        Scripted::text("It is 21 degrees and clear."),
    ])
    .await;
    let agent = agent(
        vec![provider("openai", &server)],
        vec![hook.tool("/weather"), ToolSpec::EndCall],
    );
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(text(&events), "Let me check. It is 21 degrees and clear.");
    let received = hook.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1, json!({"city": "Oslo", "days": 1}));
    assert_eq!(received[0].0["x-tenant-secret"], "s3cret");
    assert_eq!(
        received[0].0["x-voxedge-tool-call-id"],
        "call_0_get_weather"
    );

    let position =
        |pred: &dyn Fn(&BrainEvent) -> bool| events.iter().position(pred).expect("event present");
    let call =
        position(&|e| matches!(e, BrainEvent::ToolCall { name, .. } if name == "get_weather"));
    let result = position(
        &|e| matches!(e, BrainEvent::ToolResult { ok: true, content, .. } if content.contains("21")),
    );
    let answer = position(&|e| matches!(e, BrainEvent::TextDelta(t) if t == "It "));
    assert!(
        call < result && result < answer,
        "call, result, then the answer: {events:?}"
    );
    assert!(events.contains(&BrainEvent::Usage {
        prompt_tokens: 84,
        completion_tokens: 3 + 6,
        estimated: false
    }));

    let second = &server.requests()[1];
    let tools = second.body["tools"].as_array().expect("tools offered");
    assert_eq!(tools[0]["function"]["name"], "get_weather");
    assert_eq!(tools[1]["function"]["name"], "end_call");
    let messages = second.messages();
    let assistant = &messages[messages.len() - 2];
    assert_eq!(assistant["content"], "Let me check. ");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_0_get_weather");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Oslo","days":1}"#
    );
    let tool_message = &messages[messages.len() - 1];
    assert_eq!(tool_message["role"], "tool");
    assert_eq!(tool_message["tool_call_id"], "call_0_get_weather");
    let content: Value =
        serde_json::from_str(tool_message["content"].as_str().expect("text")).expect("json");
    assert_eq!(
        content,
        json!({"temp_c": 21, "sky": "clear"}),
        "the webhook's answer, verbatim"
    );

    let done = summary(&events);
    assert!(
        matches!(&done.turns[..], [Turn::ToolRound { calls, .. }, Turn::Assistant(_)] if calls.len() == 1)
    );
}

#[tokio::test]
async fn get_webhooks_receive_the_arguments_as_query_parameters() {
    let hook = Hook::start().await;
    let mut tool = hook.tool("/lookup");
    if let ToolSpec::Webhook(w) = &mut tool {
        w.method = Method::GET;
    }
    let server = OpenAiServer::with_script([
        Scripted::tool_call("get_weather", json!({"city": "Oslo Øst", "days": 2})),
        Scripted::text("Found it."),
    ])
    .await;
    let agent = agent(vec![provider("openai", &server)], vec![tool]);
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(hook.received()[0].1, json!("city=Oslo+%C3%98st&days=2"));
    assert_eq!(text(&events), "Found it.");
}

#[tokio::test]
async fn invalid_arguments_are_refused_without_calling_the_webhook() {
    tokio::time::pause();
    let hook = Hook::start().await;
    let server = OpenAiServer::with_script([
        Scripted::tool_call("get_weather", json!({"days": "two"})),
        Scripted::tool_call("get_weather", json!({}))
            .and_raw_tool_call("get_weather", "{\"city\": \"Os"),
        Scripted::text("Which city do you mean?"),
    ])
    .await;
    let agent = agent(
        vec![provider("openai", &server)],
        vec![hook.tool("/weather")],
    );
    let events = run(&brain(), &agent, &conversation()).await;

    assert!(
        hook.received().is_empty(),
        "the webhook never sees invalid arguments"
    );
    assert_eq!(text(&events), "Which city do you mean?");
    let refusals: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            BrainEvent::ToolResult {
                ok: false, content, ..
            } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(refusals.len(), 3);
    let requests = server.requests();
    let fed_back = requests[1].messages().last().expect("tool message")["content"]
        .as_str()
        .expect("text");
    assert!(
        fed_back.contains("invalid arguments for get_weather"),
        "{fed_back}"
    );
    assert!(fed_back.contains("city"), "{fed_back}");
    assert!(fed_back.contains("/days"), "{fed_back}");
    let broken_json = &requests[2].messages().last().expect("tool message")["content"];
    assert!(
        broken_json
            .as_str()
            .is_some_and(|t| t.contains("not valid JSON"))
    );
}

#[tokio::test]
async fn failing_or_slow_webhooks_give_the_model_an_error_to_work_with() {
    tokio::time::pause();
    let hook = Hook::start().await;
    let mut slow = hook.tool("/slow");
    if let ToolSpec::Webhook(w) = &mut slow {
        w.name = "slow_lookup".into();
    }
    let server = OpenAiServer::with_script([
        Scripted::tool_call("get_weather", json!({"city": "Oslo"}))
            .and_tool_call("slow_lookup", json!({"city": "Oslo"})),
        Scripted::text("The weather service is down."),
    ])
    .await;
    let agent = agent(
        vec![provider("openai", &server)],
        vec![hook.tool("/broken"), slow],
    );
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(hook.received().len(), 2, "both webhooks were called");
    let results: Vec<(bool, &str)> = events
        .iter()
        .filter_map(|e| match e {
            BrainEvent::ToolResult { ok, content, .. } => Some((*ok, content.as_str())),
            _ => None,
        })
        .collect();
    assert!(
        matches!(results[0], (false, c) if c.contains("503") && c.contains("maintenance")),
        "{results:?}"
    );
    assert!(
        matches!(results[1], (false, c) if c.contains("did not answer within 3s")),
        "{results:?}"
    );
    assert_eq!(text(&events), "The weather service is down.");
}

#[tokio::test]
async fn end_call_comes_after_the_goodbye() {
    let server = OpenAiServer::with_script([Scripted::text("Goodbye, have a nice day!")
        .and_tool_call("end_call", json!({"reason": "caller is done"}))])
    .await;
    let agent = agent(vec![provider("openai", &server)], vec![ToolSpec::EndCall]);
    let events = run(&brain(), &agent, &conversation()).await;

    let end = events
        .iter()
        .position(|e| {
            *e == BrainEvent::EndCall {
                reason: Some("caller is done".into()),
            }
        })
        .expect("EndCall event");
    let last_text = events
        .iter()
        .rposition(|e| matches!(e, BrainEvent::TextDelta(_)))
        .expect("text");
    assert!(last_text < end);
    assert_eq!(
        server.request_count(),
        1,
        "it said goodbye already; no further request"
    );
    assert_eq!(summary(&events).finish, Finish::EndCall);
}

#[tokio::test]
async fn a_silent_transfer_gets_closing_words_first() {
    let server = OpenAiServer::with_script([
        Scripted::tool_call("transfer_call", json!({"to": "sales"})),
        Scripted::text("Transferring you to sales now."),
    ])
    .await;
    let tools = vec![ToolSpec::TransferCall {
        destinations: vec!["sales".into(), "support".into()],
    }];
    let agent = agent(vec![provider("openai", &server)], tools);
    let events = run(&brain(), &agent, &conversation()).await;

    assert_eq!(text(&events), "Transferring you to sales now.");
    let transfer = events
        .iter()
        .position(|e| {
            *e == BrainEvent::TransferCall {
                to: "sales".into(),
                reason: None,
            }
        })
        .expect("TransferCall event");
    let last_text = events
        .iter()
        .rposition(|e| matches!(e, BrainEvent::TextDelta(_)))
        .expect("text");
    assert!(last_text < transfer);
    assert_eq!(
        server.requests()[1].body["tool_choice"],
        "none",
        "closing words only"
    );
    assert_eq!(summary(&events).finish, Finish::TransferCall);
}

#[tokio::test]
async fn tool_rounds_are_bounded() {
    tokio::time::pause();
    let hook = Hook::start().await;
    let server = OpenAiServer::with_script([
        Scripted::tool_call("get_weather", json!({"city": "Oslo"})),
        Scripted::tool_call("get_weather", json!({"city": "Bergen"})),
    ])
    .await;
    let spec = AgentSpec::new(
        vec![provider("openai", &server)],
        ToolSet::new(vec![hook.tool("/weather")]).expect("tools"),
    )
    .expect("agent")
    .with_max_tool_rounds(1);
    let events = run(&brain(), &Arc::new(spec), &conversation()).await;

    assert_eq!(
        hook.received().len(),
        1,
        "the second round's call is not executed"
    );
    assert!(server.requests()[0].body.get("tool_choice").is_none());
    assert_eq!(server.requests()[1].body["tool_choice"], "none");
    assert_eq!(summary(&events).finish, Finish::ToolRoundsExhausted);
    assert!(events.contains(&BrainEvent::Apology(AgentSpec::DEFAULT_APOLOGY.into())));
}
