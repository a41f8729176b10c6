//! ITU-T G.711 companding: mu-law (North America, Japan; Twilio Media Streams) and A-law (rest of the world).
//!
//! Both directions are table lookups built at compile time from the reference algorithm (the public-domain Sun
//! Microsystems `g711.c`, which matches the ITU tables bit for bit):
//! - decode: 256 entries per law, code → 16-bit linear;
//! - encode: mu-law works on 14-bit magnitudes and A-law on 13-bit ones, so the 16-bit input is shifted down and
//!   used as an index into a 16,384- resp. 8,192-entry table.
//!
//! Tables keep the hot path branch-free: a 20 ms Twilio frame is 160 lookups either way.

const SIGN_BIT: u8 = 0x80;
const QUANT_MASK: u8 = 0x0F;
const SEG_SHIFT: u8 = 4;
const SEG_MASK: u8 = 0x70;

/// Mu-law bias added before segment search (33 << 2 in 16-bit terms).
const ULAW_BIAS: i32 = 0x84;
/// Largest 14-bit magnitude mu-law can represent before the bias is added.
const ULAW_CLIP: i32 = 8159;
const ULAW_SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn segment(value: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if value <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// Reference mu-law encoder on a 16-bit sample (only its top 14 bits count).
const fn ulaw_encode_reference(pcm: i16) -> u8 {
    let mut value = (pcm as i32) >> 2;
    let mask: u8 = if value < 0 {
        value = -value;
        0x7F
    } else {
        0xFF
    };
    if value > ULAW_CLIP {
        value = ULAW_CLIP;
    }
    value += ULAW_BIAS >> 2;
    let seg = segment(value, &ULAW_SEG_END);
    if seg >= 8 {
        0x7F ^ mask
    } else {
        (((seg as u8) << 4) | ((value >> (seg + 1)) as u8 & QUANT_MASK)) ^ mask
    }
}

const fn ulaw_decode_reference(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & QUANT_MASK) as i32) << 3) + ULAW_BIAS;
    t <<= ((u & SEG_MASK) >> SEG_SHIFT) as i32;
    (if u & SIGN_BIT != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

/// Reference A-law encoder on a 16-bit sample (only its top 13 bits count).
const fn alaw_encode_reference(pcm: i16) -> u8 {
    let mut value = (pcm as i32) >> 3;
    let mask: u8 = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    let seg = segment(value, &ALAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut a = (seg as u8) << SEG_SHIFT;
    a |= if seg < 2 {
        (value >> 1) as u8 & QUANT_MASK
    } else {
        (value >> seg) as u8 & QUANT_MASK
    };
    a ^ mask
}

const fn alaw_decode_reference(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & QUANT_MASK) as i32) << 4;
    let seg = ((a & SEG_MASK) >> SEG_SHIFT) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & SIGN_BIT != 0 { t } else { -t }) as i16
}

// Const fns cannot call function pointers, so each table gets its own builder.
const fn build_ulaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_reference(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_reference(i as u8);
        i += 1;
    }
    table
}

/// Entry `i` is the code of the 16-bit sample `(i - 8192) << 2`.
const fn build_ulaw_encode() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        table[i] = ulaw_encode_reference(((i as i32 - 8192) << 2) as i16);
        i += 1;
    }
    table
}

/// Entry `i` is the code of the 16-bit sample `(i - 4096) << 3`.
const fn build_alaw_encode() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        table[i] = alaw_encode_reference(((i as i32 - 4096) << 3) as i16);
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();

/// Mu-law code → 16-bit linear sample.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// 16-bit linear sample → mu-law code.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

/// A-law code → 16-bit linear sample.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// 16-bit linear sample → A-law code.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 3) as i32 + 4096) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_mulaw_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0); // "negative zero"
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        // Smallest non-zero steps of segment 0 are 8 apart (in 16-bit terms).
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0x7E), -8);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let ulaw = linear_to_ulaw(ulaw_to_linear(code));
            // 0x7F (negative zero) decodes to 0, which encodes as positive zero.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw, expected, "mu-law code {code:#04x}");
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law code {code:#04x}"
            );
        }
    }

    #[test]
    fn tables_match_reference_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_ulaw(s), ulaw_encode_reference(s), "mu-law {s}");
            assert_eq!(linear_to_alaw(s), alaw_encode_reference(s), "A-law {s}");
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_segment_step() {
        // Each segment's step is about 1/16 of its magnitude; mu-law also clips above 32124.
        for s in i16::MIN..=i16::MAX {
            let x = i32::from(s);
            let tol = if x.abs() > 32_000 {
                700
            } else {
                x.abs() / 16 + 16
            };
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(s)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(s)));
            assert!((u - x).abs() <= tol, "mu-law {s} -> {u}");
            assert!((a - x).abs() <= tol, "A-law {s} -> {a}");
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for s in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(s));
            let a = alaw_to_linear(linear_to_alaw(s));
            assert!(u >= prev_u && a >= prev_a, "not monotonic at {s}");
            prev_u = u;
            prev_a = a;
        }
    }
}
