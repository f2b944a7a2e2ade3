//! Base64url: encoding any bytes decodes back to them, and whatever the tolerant decoder accepts
//! has the length the padding rules imply and re-encodes to something that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raceway::propagation::__fuzz;

fuzz_target!(|data: &[u8]| {
    let enc = __fuzz::base64url_encode(data);
    assert!(!enc.contains('='), "written unpadded");
    assert_eq!(enc.len(), (data.len() * 4).div_ceil(3));
    assert_eq!(__fuzz::base64url_decode(&enc).as_deref(), Some(data));

    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(decoded) = __fuzz::base64url_decode(text) else { return };
    let body = text.trim_end_matches('=');
    assert!(text.len() - body.len() <= 2, "at most two padding characters");
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_+/".contains(&b)), "{text:?}");
    assert_eq!(decoded.len(), body.len() * 3 / 4);
    let again = __fuzz::base64url_encode(&decoded);
    assert_eq!(__fuzz::base64url_decode(&again), Some(decoded));
});
