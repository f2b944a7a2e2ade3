//! Request bodies built from recorded events: each event as `wire_json` renders it, cut into
//! parts without serializing again, oversized values omitted.

use crate::event::Event;
use crate::exporter::wire::{body_of, Body};
use crate::testing::{capture, wire_json, wire_metadata};

fn events(n: u64) -> Vec<Event> {
    capture(|| {
        for i in 0..n {
            crate::instrument::track::track_write("counter", &i, &(i + 1));
        }
    })
    .events
}

fn parsed(body: &[u8]) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["events"].as_array().unwrap().clone()
}

#[test]
fn a_body_holds_each_event_as_wire_json_renders_it() {
    let evs = events(5);
    let p = wire_metadata();
    let mut body = Body::with_buffer(Vec::new());
    for e in &evs {
        body.push(e, &p, usize::MAX).unwrap();
    }
    let (buf, spans) = body.finish();
    let singles = wire_json(&evs);
    assert_eq!(spans.len(), 5);
    for (s, single) in spans.iter().zip(&singles) {
        assert_eq!(&buf[s.clone()], single.as_bytes());
    }
    assert_eq!(parsed(&buf).len(), 5);
    // Halves rebuilt from the ranges are whole bodies of their events.
    let (a, b) = spans.split_at(2);
    let first: Vec<serde_json::Value> = singles[..2].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
    let second: Vec<serde_json::Value> = singles[2..].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
    assert_eq!(parsed(&body_of(&buf, a)), first);
    assert_eq!(parsed(&body_of(&buf, b)), second);
}

#[test]
fn split_last_moves_the_last_event_into_a_new_body() {
    let evs = events(3);
    let p = wire_metadata();
    let mut body = Body::with_buffer(Vec::new());
    for e in &evs {
        body.push(e, &p, usize::MAX).unwrap();
    }
    let next = body.split_last(Vec::new());
    let singles = wire_json(&evs);
    let (a, _) = body.finish();
    let (b, b_spans) = next.finish();
    assert_eq!(parsed(&a).len(), 2);
    assert_eq!(parsed(&b), vec![serde_json::from_str::<serde_json::Value>(&singles[2]).unwrap()]);
    assert_eq!(&b[b_spans[0].clone()], singles[2].as_bytes());
    // A single event split off leaves an empty, still valid body.
    let mut one = Body::with_buffer(Vec::new());
    one.push(&evs[0], &p, usize::MAX).unwrap();
    let moved = one.split_last(Vec::new());
    assert!(one.len() == 0 && moved.len() == 1);
    assert_eq!(parsed(&one.finish().0).len(), 0);
}

#[test]
fn oversized_events_are_rendered_without_values_or_refused() {
    let evs = capture(|| crate::instrument::track::track_write("big", &"x".repeat(5000), &1)).events;
    let p = wire_metadata();
    let mut body = Body::with_buffer(Vec::new());
    let len = body.push(&evs[0], &p, 2000).expect("fits once the values are omitted");
    assert!(len <= 2000);
    let (buf, _) = body.finish();
    let ev = &parsed(&buf)[0];
    let old = ev["kind"]["StateChange"]["old_value"].as_str().unwrap();
    assert!(old.starts_with("<value omitted: "), "{old}");
    let mut body = Body::with_buffer(Vec::new());
    assert_eq!(body.push(&evs[0], &p, 100), None);
    assert_eq!(body.len(), 0);
    assert_eq!(body.finish().0, b"{\"events\":[]}");
}
