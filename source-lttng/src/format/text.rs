//! Byte-level renderings babeltrace2's `sink.text.pretty` uses for values:
//! integers in their display base, escaped strings, C `%g` floats and the
//! wall-clock time of day. Everything appends to a `Vec<u8>` without
//! allocating (floats excepted) because `trawl cat` formats every event.

/// How an integer prints: the parts of the CTF integer type that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntFmt {
    /// Size in bits (1 to 64): binary prints exactly this many digits,
    /// hexadecimal and octal mask negative values to it.
    pub size: u32,
    /// Two's complement.
    pub signed: bool,
    /// Display base: 2, 8, 16, anything else prints as 10.
    pub base: u32,
}

/// Appends `v` in `radix` (2..=16), uppercase digits.
pub(crate) fn push_radix(out: &mut Vec<u8>, mut v: u64, radix: u64) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 64];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `radix` is at most 16, so the index is in bounds.
        buf[i] = DIGITS[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal, left-padded with zeros to `width` digits.
pub(crate) fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a signed decimal.
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_radix(out, v.unsigned_abs(), 10);
}

/// Appends an integer as babeltrace2's `print_integer` does.
///
/// `raw` is the decoded value (sign-extended when signed). Rules:
/// - base 10: `%PRId64` when signed, `%PRIu64` otherwise;
/// - base 16: `0x` + uppercase hex; a field narrower than 64 bits is first
///   masked to its size rounded up to a nibble (so an 8-bit `-1` is `0xFF`);
/// - base 8: `0` + octal; a signed field narrower than 64 bits is masked to
///   its size rounded up to 3 bits (unsigned values are not masked);
/// - base 2: `0b` + exactly `size` binary digits (leading zeros kept).
pub(crate) fn push_int(out: &mut Vec<u8>, raw: i128, f: IntFmt) {
    // The 64-bit pattern babeltrace2 holds in its `uint64_t`/`int64_t` union.
    let bits = raw as u64;
    let size = f.size.clamp(1, 64);
    match f.base {
        2 => {
            out.extend_from_slice(b"0b");
            for bit in (0..size).rev() {
                out.push(if (bits >> bit) & 1 == 1 { b'1' } else { b'0' });
            }
        }
        8 => {
            let mut v = bits;
            if f.signed && size < 64 {
                let rounded = ((size - 1) / 3 + 1) * 3;
                if rounded < 64 {
                    v &= (1u64 << rounded) - 1;
                }
            }
            out.push(b'0');
            push_radix(out, v, 8);
        }
        16 => {
            let mut v = bits;
            if size < 64 {
                let rounded = (size + 3) & !3;
                if rounded < 64 {
                    v &= (1u64 << rounded) - 1;
                }
            }
            out.extend_from_slice(b"0x");
            push_radix(out, v, 16);
        }
        _ => {
            if f.signed {
                push_i64(out, bits as i64);
            } else {
                push_radix(out, bits, 10);
            }
        }
    }
}

/// Appends a string between double quotes as babeltrace2's
/// `print_escape_string` does: the bytes up to the first NUL; `\\`, `'`,
/// `"` and `?` get a backslash; the C `iscntrl` bytes (0x01-0x1F, 0x7F)
/// print as `\a \b \e \f \n \r \t \v` or else `\xNN` (two lowercase hex
/// digits); every other byte (UTF-8 included) is copied as is.
pub(crate) fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            0 => break,
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'?' => out.extend_from_slice(b"\\?"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x1B => out.extend_from_slice(b"\\e"),
            0x0C => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x0B => out.extend_from_slice(b"\\v"),
            0x01..=0x1F | 0x7F => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\x");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xF)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `v` as C's `printf("%g", v)` (glibc): 6 significant digits,
/// `%e` style when the decimal exponent is < -4 or >= 6, `%f` style
/// otherwise, trailing zeros and a trailing point removed, exponent with a
/// sign and at least two digits; `inf`, `-inf`, `nan`, `-nan`.
/// babeltrace2 prints both `float` and `double` fields this way (a `float`
/// is widened to `double` first).
pub(crate) fn push_g(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    const P: i32 = 6;
    // `%e` with precision P-1 decides the exponent X (C11 7.21.6.1).
    let e = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = match e.split_once('e') {
        Some((m, x)) => (m, x.parse::<i32>().unwrap_or(0)),
        None => (e.as_str(), 0),
    };
    if !(-4..P).contains(&exp) {
        out.extend_from_slice(strip_zeros(mantissa).as_bytes());
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        push_padded(out, u64::from(exp.unsigned_abs()), 2);
    } else {
        let f = format!("{:.*}", (P - 1 - exp) as usize, v);
        out.extend_from_slice(strip_zeros(&f).as_bytes());
    }
}

/// `1.50000` → `1.5`, `2.00000` → `2`, `100` → `100`.
fn strip_zeros(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

/// Hour, minute and second of the day of a non-negative Unix time in UTC.
pub(crate) fn time_of_day(secs: u64) -> (u64, u64, u64) {
    let day_secs = secs % 86_400;
    (day_secs / 3600, day_secs % 3600 / 60, day_secs % 60)
}

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic
/// Gregorian; H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(raw: i128, size: u32, signed: bool, base: u32) -> String {
        let mut out = Vec::new();
        push_int(&mut out, raw, IntFmt { size, signed, base });
        String::from_utf8(out).unwrap()
    }

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        push_g(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn esc(s: &[u8]) -> String {
        let mut out = Vec::new();
        push_escaped(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal_signed_and_unsigned() {
        assert_eq!(int(-1, 32, true, 10), "-1");
        assert_eq!(
            int(i128::from(i64::MIN), 64, true, 10),
            "-9223372036854775808"
        );
        assert_eq!(
            int(i128::from(u64::MAX), 64, false, 10),
            "18446744073709551615"
        );
        assert_eq!(int(0, 8, false, 10), "0");
    }

    #[test]
    fn hex_is_uppercase_and_masked_to_nibbles() {
        // debug-info: `ip = 0x7F09B7D2922B`
        assert_eq!(int(0x7F09_B7D2_922B, 64, false, 16), "0x7F09B7D2922B");
        assert_eq!(int(0, 32, true, 16), "0x0");
        assert_eq!(int(-1, 8, true, 16), "0xFF");
        assert_eq!(int(-1, 5, true, 16), "0xFF");
        assert_eq!(int(-1, 64, true, 16), "0xFFFFFFFFFFFFFFFF");
        // session-rotation: build_id bytes `0x9`, `0x0`
        assert_eq!(int(9, 8, false, 16), "0x9");
    }

    #[test]
    fn octal_masks_signed_to_three_bits() {
        assert_eq!(int(8, 32, false, 8), "010");
        assert_eq!(int(0, 32, false, 8), "00");
        assert_eq!(int(-1, 8, true, 8), "0777");
        assert_eq!(int(-1, 64, true, 8), "01777777777777777777777");
    }

    #[test]
    fn binary_prints_every_bit() {
        assert_eq!(int(5, 4, false, 2), "0b0101");
        assert_eq!(int(-1, 3, true, 2), "0b111");
        assert_eq!(int(1, 1, false, 2), "0b1");
    }

    #[test]
    fn strings_escape_like_babeltrace2() {
        // no-packet-context / ev-disc-no-ts-begin-end / multi-domains
        assert_eq!(esc(b"how are you?"), r#""how are you\?""#);
        assert_eq!(esc(b"I'm fine, you?"), r#""I\'m fine, you\?""#);
        assert_eq!(esc(b"\\*"), r#""\\*""#);
        assert_eq!(esc(b"a\"b"), r#""a\"b""#);
        assert_eq!(esc(b"\x07\x08\x1b\x0c\n\r\t\x0b"), r#""\a\b\e\f\n\r\t\v""#);
        assert_eq!(esc(b"\x01\x7f\x1f"), r#""\x01\x7f\x1f""#);
        assert_eq!(esc("été".as_bytes()), "\"été\"");
        assert_eq!(esc(b"cut\0here"), r#""cut""#);
    }

    #[test]
    fn floats_print_as_percent_g() {
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(std::f64::consts::PI), "3.14159");
        assert_eq!(g(100_000.0), "100000");
        assert_eq!(g(1_000_000.0), "1e+06");
        assert_eq!(g(123_456_789.0), "1.23457e+08");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.000_012_345), "1.2345e-05");
        assert_eq!(g(999_999.5), "1e+06");
        assert_eq!(g(-2.5e-300), "-2.5e-300");
        assert_eq!(g(1e100), "1e+100");
        assert_eq!(g(f64::from(0.1f32)), "0.1");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(time_of_day(1_434_072_888 + 1), (1, 34, 49));
    }
}
