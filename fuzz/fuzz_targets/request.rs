//! Server request parser: no panic, lengths within bounds, the size limit
//! holds, and an accepted upgrade can always be answered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::Status;
use sansws::handshake::{
    EMPTY_HEADER, HttpResponse, Limits, Outcome, ServerResponse, parse_request,
};

fuzz_target!(|data: &[u8]| {
    let Some((&lim, bytes)) = data.split_first() else { return };
    let limits = Limits { max_len: 64 + 8 * lim as usize };
    let mut headers = [EMPTY_HEADER; 16];
    let mut out = [0u8; 4096];
    match parse_request(bytes, &mut headers, &limits) {
        Ok(Status::Complete(Outcome::Upgrade(r))) => {
            assert!(r.len() <= bytes.len() && r.len() <= limits.max_len);
            let chosen = r.protocols().next();
            assert!(chosen.is_none_or(|p| r.offers_protocol(p)));
            let _ = r.extensions().count();
            let n = ServerResponse::accept(&r).protocol(chosen).write(&mut out).expect("101 fits");
            assert!(out[..n].ends_with(b"\r\n\r\n"));
        }
        Ok(Status::Complete(Outcome::Http(r))) => {
            assert!(r.len() <= bytes.len() && r.len() <= limits.max_len);
            let _ = (r.path(), r.query(), r.host(), r.origin());
        }
        Ok(Status::Partial { needed }) => {
            assert!(needed >= 1);
            assert!(bytes.len() < limits.max_len);
        }
        Err(e) => {
            let status = e.http_status();
            assert!(status == 400 || status == 426 || status == 431, "{e:?}");
            HttpResponse::from_error(&e).write(&mut out).expect("rejection fits");
        }
    }
});
