//! The doorbell (`examples/doorbell.rs`) for 30 s with the server
//! restarted once at 15 s: two managed clients on embassy-net, one
//! streaming 20-40 KB frames at 10 a second through a 1 KiB slot, one
//! streaming 512-byte audio chunks at 50 a second both ways. Every frame
//! and chunk arrives intact (checksums), both clients reconnect once, and
//! the rates are within 10 % of nominal apart from the reconnect gap.
#![cfg(all(
    feature = "embassy",
    feature = "server",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "../examples/doorbell.rs"]
mod doorbell;

#[test]
fn both_streams_run_30_s_across_a_server_restart() {
    let st = doorbell::doorbell(30, Some(15));
    println!("{st:#?}");
    assert_eq!(
        (st.frames_bad, st.audio_up_bad, st.audio_down_bad),
        (0, 0, 0),
        "{st:#?}"
    );
    assert_eq!(
        (st.camera_connects, st.audio_connects),
        (2, 2),
        "one reconnect each: {st:#?}"
    );
    // Up time: the run less the reconnect gap (the 1 s the server is down
    // and the retries).
    let up = |gap_ms: u64| 30.0 - gap_ms as f64 / 1000.0;
    assert!(st.camera_gap_ms < 3000 && st.audio_gap_ms < 3000, "{st:#?}");
    let within = |got: u64, nominal: f64, what: &str| {
        let r = got as f64 / nominal;
        assert!(
            (0.9..=1.1).contains(&r),
            "{what}: {got} against {nominal:.0} nominal ({r:.3}): {st:#?}"
        );
    };
    within(
        st.frames_ok,
        doorbell::FPS as f64 * up(st.camera_gap_ms),
        "frames",
    );
    // Audio sent: the ring (8 chunks) catches up after the gap, within the
    // 10 %.
    within(
        st.audio_up_ok,
        doorbell::AUDIO_HZ as f64 * up(st.audio_gap_ms),
        "audio up",
    );
    within(
        st.audio_down_ok,
        doorbell::AUDIO_HZ as f64 * up(st.audio_gap_ms),
        "audio down",
    );
}
