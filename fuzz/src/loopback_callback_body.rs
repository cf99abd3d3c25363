// The body of the `loopback_callback` fuzz target, shared with the stable corpus test in
// crates/apppass-core/tests/loopback_fuzz_corpus.rs (both `include!` this file).
//
// For any bytes sent to the sign-in's loopback listener:
// - parsing never panics, and the listener's reader never reads more than the limit + 1 bytes,
//   whatever the read sizes, and decides the same as the parser on what it read;
// - an answer is accepted only when the bytes really are a complete GET of the callback path in
//   HTTP/1.x within the limit, with `code`, `state`, `error` and `iss` at most once each;
// - a generated valid answer (values taken from the input) parses back to the same parameters.

/// Checks the invariants above for `data`.
pub fn check(data: &[u8]) {
    use apppass_core::fuzzing::{
        head_end, loopback_read, parse_callback, parse_request, Refusal, MAX_REQUEST,
    };

    for path in ["/", "/callback"] {
        let parsed = parse_callback(data, path);
        match &parsed {
            Ok(callback) => {
                let end = head_end(data).expect("accepted without a complete head");
                assert!(end <= MAX_REQUEST, "accepted a head of {end} bytes");
                let line = &data[..data.windows(2).position(|w| w == b"\r\n").unwrap()];
                let rest = line
                    .strip_prefix(format!("GET {path}").as_bytes())
                    .expect("accepted something else than a GET of the callback path");
                assert!(
                    rest.starts_with(b" ") || rest.starts_with(b"?"),
                    "accepted another path"
                );
                assert!(
                    line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"),
                    "accepted another protocol"
                );
                for name in ["code", "state", "error", "iss"] {
                    let n = callback.params.iter().filter(|(k, _)| k == name).count();
                    assert!(n <= 1, "{name} {n} times");
                }
                // What the parser sees is what a reparse of its own output sees.
                round_trip(path, &callback.params);
            }
            Err(Refusal::NotTheCallback) => {
                let head = parse_request(data).expect("not the callback, yet not well-formed");
                assert!(head.method != "GET" || head.path != path);
            }
            Err(Refusal::Incomplete) => {
                assert!(head_end(data).is_none() && data.len() <= MAX_REQUEST)
            }
            Err(_) => {}
        }
        // The listener's reader, with read sizes from 1 to 3000 bytes.
        let chunk = 1 + data.first().map_or(0, |&b| usize::from(b) * 12);
        let (read, got) = loopback_read(data, chunk, path);
        assert!(read <= MAX_REQUEST + 1, "read {read} bytes");
        assert!(read <= data.len());
        assert_eq!(
            got,
            parse_callback(&data[..read], path),
            "the reader decided otherwise than the parser"
        );
        if head_end(&data[..read]).is_some() {
            // It stopped at the first read that completed the head.
            assert!(read < chunk + head_end(data).unwrap());
        }
        if got.is_ok() {
            assert!(
                parsed.is_ok(),
                "the reader accepted what the parser refused"
            );
        }
    }

    // A valid answer with values taken from the input.
    let text = String::from_utf8_lossy(data);
    let mut values = text.split('\u{1}');
    let params: Vec<(String, String)> = ["code", "state", "iss", "session_state"]
        .iter()
        .zip(values.by_ref())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    round_trip("/", &params);
}

/// Serialises `params` into a GET of `path`, as a browser would send it, and parses it back.
fn round_trip(path: &str, params: &[(String, String)]) {
    use apppass_core::fuzzing::{parse_callback, Refusal, MAX_REQUEST};

    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let request = format!("GET {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    match parse_callback(request.as_bytes(), path) {
        Ok(back) => assert_eq!(back.params, params, "{request:?}"),
        Err(Refusal::TooLarge) => assert!(request.len() > MAX_REQUEST),
        Err(Refusal::DuplicateParameter) => {}
        Err(other) => panic!("refused a valid answer ({other:?}): {request:?}"),
    }
}
