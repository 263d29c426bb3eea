//! LEB128 variable-length integers: the compact encoding of postings and lengths.

use crate::error::FormatError;

/// Appends `value` as LEB128.
pub fn write(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor over bytes that reads LEB128 values and fixed-width fields, never past the end.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    section: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], section: &'static str) -> Self {
        Self { bytes, pos: 0, section }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        self.pos = self.bytes.len();
        rest
    }

    pub fn varint(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or(FormatError::Truncated { section: self.section, what })?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FormatError::Corrupt { section: self.section, message: format!("{what}: varint longer than 64 bits") })
    }

    /// A varint that must fit a u32.
    pub fn varint_u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let value = self.varint(what)?;
        u32::try_from(value).map_err(|_| FormatError::Corrupt { section: self.section, message: format!("{what}: {value} overflows u32") })
    }

    pub fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(FormatError::Truncated { section: self.section, what })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// The next `N` bytes, as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FormatError> {
        Ok(self.bytes(N, what)?.try_into().expect("`bytes` returns N bytes"))
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn f32_le(&mut self, what: &'static str) -> Result<f32, FormatError> {
        Ok(f32::from_bits(self.u32_le(what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let values = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut out = Vec::new();
        for v in values {
            write(&mut out, v);
        }
        let mut reader = Reader::new(&out, "test");
        for v in values {
            assert_eq!(reader.varint("v").unwrap(), v);
        }
        assert!(reader.is_empty());
        assert_eq!(Reader::new(&[0x80], "test").varint("v"), Err(FormatError::Truncated { section: "test", what: "v" }));
    }
}
