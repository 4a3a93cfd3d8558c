//! Cursors as clients see them: the plain cursor (sort keys and id of the
//! last document looked at) encrypted and authenticated with a per-cluster
//! key. A cursor can point at a document the caller's read rule hid (a page
//! that stopped at the scan bound), so its contents must not be readable;
//! and a cursor only continues the order it was made for.

use basalt_core::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::order::OrderBy;

const NONCE: usize = 12;
const TAG: usize = 16;

pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub fn new(key: Vec<u8>) -> CursorKey {
        CursorKey(key)
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key")
    }

    /// XORs `data` with an HMAC-SHA256 keystream for `nonce`.
    fn stream(&self, nonce: &[u8], data: &mut [u8]) {
        for (i, chunk) in data.chunks_mut(32).enumerate() {
            let mut m = self.mac();
            m.update(b"stream");
            m.update(nonce);
            m.update(&(i as u64).to_be_bytes());
            let block = m.finalize().into_bytes();
            for (b, k) in chunk.iter_mut().zip(block.iter()) {
                *b ^= k;
            }
        }
    }

    fn tag(&self, order: &OrderBy, nonce: &[u8], sealed: &[u8]) -> [u8; TAG] {
        let mut m = self.mac();
        m.update(b"tag");
        m.update(format!("{:?}", order.fields).as_bytes());
        m.update(nonce);
        m.update(sealed);
        let full = m.finalize().into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&full[..TAG]);
        tag
    }

    pub fn seal(&self, plain: &str, order: &OrderBy) -> String {
        let mut nonce = [0u8; NONCE];
        basalt_core::secret::fill_random(&mut nonce);
        let mut body = plain.as_bytes().to_vec();
        self.stream(&nonce, &mut body);
        let tag = self.tag(order, &nonce, &body);
        let mut out = Vec::with_capacity(NONCE + body.len() + TAG);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(out)
    }

    pub fn open(&self, sealed: &str, order: &OrderBy) -> Result<String, Error> {
        let bad = || Error::invalid_argument("`after` is not a cursor of this query");
        if sealed.len() > 8192 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| bad())?;
        if bytes.len() < NONCE + TAG {
            return Err(bad());
        }
        let (nonce, rest) = bytes.split_at(NONCE);
        let (body, tag) = rest.split_at(rest.len() - TAG);
        if !bool::from(self.tag(order, nonce, body).ct_eq(tag)) {
            return Err(bad());
        }
        let mut body = body.to_vec();
        self.stream(nonce, &mut body);
        String::from_utf8(body).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_tamper() {
        let key = CursorKey::new(vec![7; 32]);
        let by_age = OrderBy::parse(Some(&json!([["age", "asc"]]))).unwrap();
        let by_name = OrderBy::parse(Some(&json!([["name", "asc"]]))).unwrap();
        let plain = "eyJpZCI6ImFiYyJ9-and-a-long-enough-plain-cursor-to-span-two-blocks-of-keystream";
        let sealed = key.seal(plain, &by_age);
        // Not "eyJ" alone: three random base64 characters match it now and then.
        assert!(
            !sealed.contains("long-enough-plain"),
            "the plain text does not show"
        );
        assert!(
            !sealed.contains(&URL_SAFE_NO_PAD.encode(&plain[..24])),
            "nor its base64"
        );
        assert_eq!(key.open(&sealed, &by_age).unwrap(), plain);
        assert!(key.open(&sealed, &by_name).is_err(), "only for its own order");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        bytes[NONCE] ^= 1;
        assert!(key.open(&URL_SAFE_NO_PAD.encode(&bytes), &by_age).is_err());
        assert!(CursorKey::new(vec![8; 32]).open(&sealed, &by_age).is_err());
        for junk in ["", "%%", "AAAA", &"A".repeat(9000)] {
            assert!(key.open(junk, &by_age).is_err());
        }
    }
}
