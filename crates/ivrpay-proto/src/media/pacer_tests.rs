use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Mutex;

/// Applies a command with a seeded generator, as the pacer thread does with its own.
fn cmd(core: &mut PacerCore, c: Command) {
    core.command(c, &mut StdRng::seed_from_u64(3550));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(Vec<u8>, SocketAddr)>>);

impl PacketSink for Recorder {
    fn send_to(&self, buf: &[u8], dest: SocketAddr) -> std::io::Result<usize> {
        self.0.lock().unwrap().push((buf.to_vec(), dest));
        Ok(buf.len())
    }
}

fn prompt(_name: &str, n: usize, value: i16) -> Arc<Clip> {
    Arc::new(Clip::from_pcm(&vec![value; n]))
}

/// The tokens of the playbacks the core reported done since the last call.
fn finished(core: &mut PacerCore) -> Vec<u64> {
    std::iter::from_fn(|| core.poll_event())
        .map(|e| match e {
            PacerEvent::PlaybackDone { stream, token } => {
                assert_eq!(stream, 7);
                token
            }
        })
        .collect()
}

fn setup() -> (PacerCore, Arc<Recorder>) {
    setup_slots(1)
}

fn setup_slots(slots: usize) -> (PacerCore, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let mut core = PacerCore::with_slots(slots);
    cmd(
        &mut core,
        Command::Add(
            7,
            StreamSpec {
                sink: rec.clone(),
                dest: "127.0.0.1:4000".parse().unwrap(),
                codec: Codec::Pcmu,
                payload_type: 0,
            },
        ),
    );
    (core, rec)
}

#[test]
fn consecutive_prompts_play_without_gaps_and_notify_once() {
    let (mut core, rec) = setup();
    let (a, b) = (prompt("a", 250, 1000), prompt("b", 250, -1000));
    cmd(&mut core, Command::Play(7, vec![a.clone(), b.clone()], 42));
    for _ in 0..6 {
        core.tick();
    }
    let pkts = rec.0.lock().unwrap();
    assert_eq!(pkts.len(), 4, "500 samples need 4 frames");
    let parsed: Vec<_> = pkts.iter().map(|(p, _)| rtp::read(p).unwrap().header).collect();
    assert!(parsed[0].marker && !parsed[1].marker && !parsed[3].marker);
    for w in parsed.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(160));
    }
    let mut audio = Vec::new();
    for (p, _) in pkts.iter() {
        audio.extend_from_slice(rtp::read(p).unwrap().payload);
    }
    let mut expected = a.encoded(Codec::Pcmu).to_vec();
    expected.extend_from_slice(b.encoded(Codec::Pcmu));
    assert_eq!(&audio[..500], &expected[..], "no gap between prompts");
    assert!(audio[500..].iter().all(|&x| x == 0xFF), "last frame padded with silence");
    assert_eq!(finished(&mut core), vec![42]);
}

#[test]
fn new_talkspurt_sets_marker_and_timestamp_reflects_silence() {
    let (mut core, rec) = setup();
    cmd(&mut core, Command::Play(7, vec![prompt("a", 160, 1)], 1));
    core.tick();
    core.tick();
    core.tick();
    cmd(&mut core, Command::Play(7, vec![prompt("b", 160, 1)], 2));
    core.tick();
    let pkts = rec.0.lock().unwrap();
    let h: Vec<_> = pkts.iter().map(|(p, _)| rtp::read(p).unwrap().header).collect();
    assert_eq!(h.len(), 2);
    assert!(h[0].marker && h[1].marker);
    assert_eq!(h[1].timestamp, h[0].timestamp.wrapping_add(3 * 160));
    assert_eq!(h[1].sequence, h[0].sequence.wrapping_add(1), "sequence has no gap in silence");
}

#[test]
fn stop_hold_and_new_destination() {
    let (mut core, rec) = setup();
    cmd(&mut core, Command::Play(7, vec![prompt("a", 1600, 1)], 1));
    core.tick();
    cmd(&mut core, Command::Stop(7));
    core.tick();
    assert_eq!(rec.0.lock().unwrap().len(), 1);
    assert!(finished(&mut core).is_empty(), "a stopped play is not reported done");
    cmd(&mut core, Command::Play(7, vec![prompt("a", 320, 1)], 2));
    cmd(&mut core, Command::SetSending(7, false));
    core.tick();
    assert_eq!(rec.0.lock().unwrap().len(), 1, "nothing sent on hold");
    cmd(&mut core, Command::SetSending(7, true));
    cmd(&mut core, Command::SetDest(7, "127.0.0.1:5000".parse().unwrap()));
    core.tick();
    core.tick();
    let pkts = rec.0.lock().unwrap();
    assert_eq!(pkts.len(), 3);
    assert_eq!(pkts[2].1.port(), 5000);
    assert_eq!(finished(&mut core), vec![2]);
    drop(pkts);
    cmd(&mut core, Command::Remove(7));
    assert!(core.is_empty());
    core.tick();
    assert_eq!(rec.0.lock().unwrap().len(), 3, "a removed stream sends nothing");
}

#[test]
fn empty_play_is_done_at_once() {
    let (mut core, _) = setup();
    cmd(&mut core, Command::Play(7, vec![], 9));
    assert_eq!(finished(&mut core), vec![9]);
}

#[test]
fn sub_slots_pace_each_stream_once_per_period() {
    let (mut core, rec) = setup_slots(4);
    cmd(&mut core, Command::Play(7, vec![prompt("a", 1600, 1)], 1));
    // Stream 7 is in sub-slot 7 % 4 = 3: only that sub-slot sends its packet.
    for slot in 0..4 {
        core.tick_slot(slot);
        assert_eq!(rec.0.lock().unwrap().len(), usize::from(slot == 3), "after sub-slot {slot}");
    }
    for slot in 0..4 {
        core.tick_slot(slot);
    }
    let pkts = rec.0.lock().unwrap();
    let h: Vec<_> = pkts.iter().map(|(p, _)| rtp::read(p).unwrap().header).collect();
    assert_eq!(h[1].timestamp, h[0].timestamp.wrapping_add(160), "one frame per period");
}
