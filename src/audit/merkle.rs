//! The append-only Merkle tree of the audit journal, hashed exactly as
//! RFC 6962 section 2.1: leaves are SHA-256(0x00 || data), nodes are
//! SHA-256(0x01 || left || right). Inclusion and consistency proofs follow
//! RFC 6962 2.1.1 / 2.1.2 and are verified as in RFC 9162 2.1.3.2 / 2.1.4.2.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongProofLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("sizes {old} and {new} do not describe an older and a newer tree")]
    BadSizes { old: u64, new: u64 },
    #[error("not a hex-encoded SHA-256 hash")]
    BadHex,
}

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The roots of the perfect subtrees covering the leaves so far, so the
/// tree head is known after every append without rereading leaves.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// Subtree roots, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Self {
        Frontier::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        // Each trailing one bit of the old size is a subtree of equal height to merge with.
        let mut s = self.size;
        while s & 1 == 1 {
            if let Some(left) = self.stack.pop() {
                node = node_hash(&left, &node);
            }
            s >>= 1;
        }
        self.stack.push(node);
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// PATH(m, D[n]) of RFC 6962 2.1.1.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(
        leaves,
        usize::try_from(index).map_err(|_| MerkleError::IndexOutOfRange { index, size })?,
        &mut proof,
    );
    Ok(proof)
}

fn path(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// RFC 9162 2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, size: tree_size });
    }
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(MerkleError::WrongProofLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::WrongProofLength);
    }
    if &r != root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// PROOF(m, D[n]) of RFC 6962 2.1.2.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, MerkleError> {
    let new = leaves.len() as u64;
    if old_size == 0 || old_size > new {
        return Err(MerkleError::BadSizes { old: old_size, new });
    }
    let mut out = Vec::new();
    if old_size < new {
        subproof(
            leaves,
            usize::try_from(old_size).map_err(|_| MerkleError::BadSizes { old: old_size, new })?,
            true,
            &mut out,
        );
    }
    Ok(out)
}

fn subproof(leaves: &[Hash], m: usize, complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(&leaves[..k], m, complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(&leaves[k..], m - k, false, out);
        out.push(root(&leaves[..k]));
    }
}

/// RFC 9162 2.1.4.2.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size == 0 || old_size > new_size {
        return Err(MerkleError::BadSizes { old: old_size, new: new_size });
    }
    if old_size == new_size {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    let mut proof: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let Some((first, rest)) = proof.split_first() else { return Err(MerkleError::WrongProofLength) };
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(MerkleError::WrongProofLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::WrongProofLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

pub fn to_hex(h: &Hash) -> String {
    hex::encode(h)
}

pub fn from_hex(s: &str) -> Result<Hash, MerkleError> {
    let bytes = hex::decode(s).map_err(|_| MerkleError::BadHex)?;
    bytes.as_slice().try_into().map_err(|_| MerkleError::BadHex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn rfc6962_reference_vector() {
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let l: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        assert_eq!(to_hex(&root(&l)), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
        assert_eq!(to_hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let three = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root(&l[..3]), three);
    }

    proptest! {
        #[test]
        fn frontier_and_proofs(n in 1usize..200, seed in any::<u64>()) {
            let l = leaves(n);
            let mut f = Frontier::new();
            for (i, leaf) in l.iter().enumerate() {
                f.push(*leaf);
                prop_assert_eq!(f.root(), root(&l[..=i]));
            }
            let r = root(&l);
            let index = seed % n as u64;
            let proof = inclusion_proof(&l, index).unwrap();
            prop_assert!(verify_inclusion(&l[index as usize], index, n as u64, &proof, &r).is_ok());
            prop_assert!(verify_inclusion(&l[index as usize], (index + 1) % n as u64, n as u64, &proof, &r).is_err() || n == 1);
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[0][0] ^= 1;
                prop_assert!(verify_inclusion(&l[index as usize], index, n as u64, &bad, &r).is_err());
            }
            prop_assert!(verify_inclusion(&l[index as usize], index, n as u64, &proof, &leaf_hash(b"other")).is_err());
            prop_assert!(verify_inclusion(&l[index as usize], n as u64, n as u64, &proof, &r).is_err());
            let old = 1 + seed % n as u64;
            let cproof = consistency_proof(&l, old).unwrap();
            prop_assert!(verify_consistency(old, n as u64, &root(&l[..old as usize]), &r, &cproof).is_ok());
            if !cproof.is_empty() {
                let mut bad = cproof.clone();
                bad[0][1] ^= 1;
                prop_assert!(verify_consistency(old, n as u64, &root(&l[..old as usize]), &r, &bad).is_err());
            }
        }
    }
}
