#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| voxedge::fuzzing::realtime(data));
