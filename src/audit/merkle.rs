//! The append-only Merkle tree of the tamper-evident audit journal: leaf and
//! node hashing, tree heads, the [`Frontier`] the journal writer keeps in
//! memory, and inclusion and consistency proofs. Hashing is exactly RFC 6962
//! section 2.1, so any Certificate Transparency tooling can check our proofs;
//! verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf, an interior node or a tree head.
pub type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a proof of {got} hashes does not fit this leaf index and these tree sizes")]
    WrongProofLength { got: usize },
    #[error("the proof does not lead to the expected tree head")]
    RootMismatch,
    #[error("a tree of {old} leaves cannot be an earlier state of a tree of {new} leaves")]
    BadSizes { old: u64, new: u64 },
    #[error("not a hex-encoded SHA-256 hash (64 hex digits)")]
    BadHex,
    #[error("not a stored Merkle frontier (a size and one hash per set bit of it)")]
    BadFrontier,
}

// The 0x00 / 0x01 prefixes keep leaves and interior nodes in separate domains, so
// nobody can present an interior node as a leaf (second-preimage attack).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(data).finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new().chain_update([0x01]).chain_update(left).chain_update(right).finalize().into()
}

pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n`; callers guarantee `n >= 2`.
fn split(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[n]) of RFC 6962 2.1, over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len() as u64) as usize);
            node_hash(&root(left), &root(right))
        }
    }
}

/// The roots of the perfect subtrees covering every leaf so far (one per set
/// bit of the size), so the writer knows the tree head after each batch without
/// rereading leaves. At most 64 hashes, so cloning is cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Largest (leftmost) subtree first.
    peaks: Vec<Hash>,
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
        // As in binary increment, each trailing one bit of the old size is a
        // subtree of the same height that the new leaf now completes.
        let mut carry = self.size;
        while carry & 1 == 1 {
            let Some(left) = self.peaks.pop() else { break };
            node = node_hash(&left, &node);
            carry >>= 1;
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// Equal to [`root`] over every leaf pushed: MTH splits at the largest power
    /// of two, which is exactly the leftmost peak, so folding from the right
    /// rebuilds the same tree.
    pub fn root(&self) -> Hash {
        self.peaks
            .iter()
            .rev()
            .copied()
            .reduce(|right, left| node_hash(&left, &right))
            .unwrap_or_else(empty_root)
    }

    /// Each peak with the leaf range `[start, end)` it covers, leftmost first.
    pub fn subtrees(&self) -> Vec<(u64, u64, Hash)> {
        let heights = (0..u64::BITS).rev().filter(|bit| (self.size >> bit) & 1 == 1);
        let mut start = 0;
        heights
            .zip(&self.peaks)
            .map(|(bit, peak)| {
                let range = (start, start + (1 << bit));
                start = range.1;
                (range.0, range.1, *peak)
            })
            .collect()
    }

    /// The size then each peak in hex, space-separated: what retention stores
    /// at the prune point so later checkpoints still verify.
    pub fn to_text(&self) -> String {
        std::iter::once(self.size.to_string())
            .chain(self.peaks.iter().map(to_hex))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn from_text(text: &str) -> Result<Self, MerkleError> {
        let mut parts = text.split_whitespace();
        let size: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or(MerkleError::BadFrontier)?;
        let peaks =
            parts.map(from_hex).collect::<Result<Vec<_>, _>>().map_err(|_| MerkleError::BadFrontier)?;
        // push relies on one peak per set bit; a frontier that breaks it would
        // silently produce wrong roots.
        if peaks.len() != size.count_ones() as usize {
            return Err(MerkleError::BadFrontier);
        }
        Ok(Frontier { size, peaks })
    }
}

/// PATH(m, D[n]) of RFC 6962 2.1.1: sibling hashes from the leaf upwards.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = leaves.len() as u64;
    let range = |a: u64, b: u64| leaves.get(usize::try_from(a).ok()?..usize::try_from(b).ok()?);
    inclusion_proof_with(size, index, &|a, b| {
        range(a, b).map(root).ok_or(MerkleError::IndexOutOfRange { index, size })
    })
}

/// PATH for a tree known only through `subtree(start, end)`, the hash of leaves
/// `[start, end)`: after retention pruned old leaves, their hashes survive only
/// as frontier peaks. Only ranges that are nodes of the tree are asked for.
pub fn inclusion_proof_with(
    tree_size: u64,
    index: u64,
    subtree: &dyn Fn(u64, u64) -> Result<Hash, MerkleError>,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, size: tree_size });
    }
    let mut proof = Vec::new();
    let (mut start, mut end) = (0, tree_size);
    while end - start > 1 {
        let mid = start + split(end - start);
        if index < mid {
            proof.push(subtree(mid, end)?);
            end = mid;
        } else {
            proof.push(subtree(start, mid)?);
            start = mid;
        }
    }
    // Found from the root down, but PATH lists siblings from the leaf up.
    proof.reverse();
    Ok(proof)
}

/// RFC 9162 2.1.3.2. Only `root` is checked, not `tree_size`: a proof can fit
/// another size whose path has the same shape, so the size must be
/// authenticated together with the root (the signed checkpoint does that).
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
    let wrong_length = MerkleError::WrongProofLength { got: proof.len() };
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(wrong_length);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            // A right-edge node with no sibling at this level moves up unchanged.
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(wrong_length);
    }
    if &r != root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// PROOF(m, D[n]) of RFC 6962 2.1.2. The empty tree and the tree itself are
/// consistent with `leaves` by definition, so their proofs are empty.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, MerkleError> {
    let m = usize::try_from(old_size)
        .ok()
        .filter(|&m| m <= leaves.len())
        .ok_or(MerkleError::BadSizes { old: old_size, new: leaves.len() as u64 })?;
    let mut proof = Vec::new();
    if 0 < m && m < leaves.len() {
        subproof(leaves, m, true, &mut proof);
    }
    Ok(proof)
}

/// SUBPROOF(m, D[n], b); `complete` is b: whether D[0:m] is a subtree whose
/// root the verifier already holds (the old head).
fn subproof(leaves: &[Hash], m: usize, complete: bool, out: &mut Vec<Hash>) {
    if m == leaves.len() {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(leaves.len() as u64) as usize;
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(left, m, complete, out);
        out.push(root(right));
    } else {
        subproof(right, m - k, false, out);
        out.push(root(left));
    }
}

/// RFC 9162 2.1.4.2, extended (as transparency-dev does) to the trivial cases
/// the RFC leaves out: from the empty tree, and between equal sizes.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::BadSizes { old: old_size, new: new_size });
    }
    let wrong_length = MerkleError::WrongProofLength { got: proof.len() };
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(wrong_length);
        }
        let empty_ok = old_size != 0 || *old_root == empty_root();
        return if empty_ok && (old_size != new_size || old_root == new_root) {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(wrong_length);
    }
    // The proof omits the old head when the old tree is a perfect subtree: the
    // verifier already holds it.
    let mut path = old_size.is_power_of_two().then_some(old_root).into_iter().chain(proof);
    let Some(first) = path.next() else { return Err(wrong_length) };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in path {
        if s_n == 0 {
            return Err(wrong_length);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(wrong_length);
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
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).map_err(|_| MerkleError::BadHex)?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SHA-256 over concatenated parts, independent of the code under test.
    fn sha(parts: &[&[u8]]) -> Hash {
        Sha256::digest(parts.concat()).into()
    }
    fn nd(l: Hash, r: Hash) -> Hash {
        sha(&[&[1], &l, &r])
    }
    fn hx(s: &str) -> Hash {
        from_hex(s).unwrap()
    }
    fn frontier(leaves: &[Hash]) -> Frontier {
        let mut f = Frontier::new();
        leaves.iter().for_each(|l| f.push(*l));
        f
    }

    #[test]
    fn roots_of_small_trees_follow_the_rfc_definition() {
        let l: Vec<Hash> = (0u8..8).map(|i| sha(&[&[0], &[b'L', i]])).collect();
        assert_eq!(l, (0u8..8).map(|i| leaf_hash(&[b'L', i])).collect::<Vec<_>>());
        let (n01, n45) = (nd(l[0], l[1]), nd(l[4], l[5]));
        let n0123 = nd(n01, nd(l[2], l[3]));
        let expected = [
            (0, sha(&[])),
            (1, l[0]),
            (2, n01),
            (3, nd(n01, l[2])),
            (4, n0123),
            (5, nd(n0123, l[4])),
            (6, nd(n0123, n45)),
            (7, nd(n0123, nd(n45, l[6]))),
            (8, nd(n0123, nd(n45, nd(l[6], l[7])))),
        ];
        for (n, want) in expected {
            assert_eq!(root(&l[..n]), want, "root of {n} leaves");
            assert_eq!(frontier(&l[..n]).root(), want, "frontier of {n} leaves");
        }
        assert_eq!(node_hash(&l[0], &l[1]), n01);
        assert_eq!(empty_root(), sha(&[]));
    }

    // Certificate Transparency's reference data (certificate-transparency-go
    // merkle/log_verifier_test.go; the same vectors are in CT's C++ and Python tests).
    const CT_LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    const H96: &str = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7";
    const H5F: &str = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e";
    const H6B: &str = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4";
    const HBC: &str = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b";
    const HCA: &str = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0";
    const H0E: &str = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a";

    #[test]
    fn certificate_transparency_reference_vectors() {
        let l: Vec<Hash> = CT_LEAVES.iter().map(|d| leaf_hash(d)).collect();
        let hashes = |hs: &[&str]| hs.iter().map(|h| hx(h)).collect::<Vec<_>>();
        for (n, want) in CT_ROOTS.iter().enumerate() {
            assert_eq!(to_hex(&root(&l[..n])), *want, "root of {n} leaves");
            assert_eq!(to_hex(&frontier(&l[..n]).root()), *want, "frontier of {n} leaves");
        }
        let inclusion: [(usize, usize, &[&str]); 4] = [
            (0, 8, &[H96, H5F, H6B]),
            (5, 8, &[HBC, HCA, CT_ROOTS[4]]),
            (2, 3, &[CT_ROOTS[2]]),
            (1, 5, &[CT_ROOTS[1], H5F, HBC]),
        ];
        for (i, size, want) in inclusion {
            let proof = inclusion_proof(&l[..size], i as u64).unwrap();
            assert_eq!(proof, hashes(want), "index {i} of {size}");
            verify_inclusion(&l[i], i as u64, size as u64, &proof, &hx(CT_ROOTS[size])).unwrap();
        }
        let consistency: [(usize, usize, &[&str]); 4] =
            [(1, 1, &[]), (1, 8, &[H96, H5F, H6B]), (6, 8, &[H0E, HCA, CT_ROOTS[4]]), (2, 5, &[H5F, HBC])];
        for (old, new, want) in consistency {
            let proof = consistency_proof(&l[..new], old as u64).unwrap();
            assert_eq!(proof, hashes(want), "{old} -> {new}");
            let (r_old, r_new) = (hx(CT_ROOTS[old]), hx(CT_ROOTS[new]));
            verify_consistency(old as u64, new as u64, &r_old, &r_new, &proof).unwrap();
        }
    }

    #[test]
    fn errors_and_edge_cases() {
        use MerkleError::*;
        let l: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let (r, r4) = (root(&l), root(&l[..4]));
        assert_eq!(inclusion_proof(&l, 5), Err(IndexOutOfRange { index: 5, size: 5 }));
        assert_eq!(inclusion_proof(&[], 0), Err(IndexOutOfRange { index: 0, size: 0 }));
        assert_eq!(verify_inclusion(&l[0], 0, 0, &[], &r), Err(IndexOutOfRange { index: 0, size: 0 }));
        let p = inclusion_proof(&l, 1).unwrap();
        assert_eq!(verify_inclusion(&l[1], 1, 5, &p[..2], &r), Err(WrongProofLength { got: 2 }));
        assert_eq!(
            verify_inclusion(&l[1], 1, 5, &[&p[..], &[r]].concat(), &r),
            Err(WrongProofLength { got: 4 })
        );
        assert_eq!(verify_inclusion(&l[2], 1, 5, &p, &r), Err(RootMismatch));
        assert_eq!(consistency_proof(&l, 6), Err(BadSizes { old: 6, new: 5 }));
        assert_eq!(verify_consistency(3, 2, &r, &r, &[]), Err(BadSizes { old: 3, new: 2 }));
        // RFC 9162 step 1: an empty proof between different sizes fails, even
        // though a power-of-two old head would make the path non-empty.
        assert_eq!(verify_consistency(4, 5, &r4, &r, &[]), Err(WrongProofLength { got: 0 }));
        verify_consistency(0, 5, &empty_root(), &r, &[]).unwrap();
        verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).unwrap();
        verify_consistency(5, 5, &r, &r, &[]).unwrap();
        assert_eq!(verify_consistency(0, 5, &r, &r, &[]), Err(RootMismatch));
        assert_eq!(verify_consistency(5, 5, &r4, &r, &[]), Err(RootMismatch));
        assert_eq!(verify_consistency(5, 5, &r, &r, &[r]), Err(WrongProofLength { got: 1 }));
        assert_eq!(from_hex(&to_hex(&r).to_uppercase()), Ok(r));
        for bad in ["", "00", &"0".repeat(63), &"0".repeat(66), &"g".repeat(64)] {
            assert_eq!(from_hex(bad), Err(BadHex), "{bad:?}");
        }
        let f = frontier(&l);
        assert_eq!(Frontier::from_text(&f.to_text()), Ok(f.clone()));
        assert_eq!(Frontier::from_text(&Frontier::new().to_text()), Ok(Frontier::new()));
        let two_peaks = format!("5 {} {}", to_hex(&r4), to_hex(&l[4]));
        assert_eq!(Frontier::from_text(&two_peaks), Ok(f));
        for bad in
            ["", "x", "5", &format!("4 {}", to_hex(&r4)[1..].to_owned()), &format!("3 {}", to_hex(&r4))]
        {
            assert_eq!(Frontier::from_text(bad), Err(BadFrontier), "{bad:?}");
        }
        assert_eq!(
            IndexOutOfRange { index: 7, size: 3 }.to_string(),
            "leaf index 7 is outside a tree of 3 leaves"
        );
    }

    /// Why the checkpoint signs the size with the root: the RFC algorithm does
    /// not notice a wrong size when the path has the same shape.
    #[test]
    fn inclusion_alone_does_not_authenticate_the_tree_size() {
        let l: Vec<Hash> = (0u8..6).map(|i| leaf_hash(&[i])).collect();
        let proof = inclusion_proof(&l[..5], 0).unwrap();
        verify_inclusion(&l[0], 0, 6, &proof, &root(&l[..5])).unwrap();
        assert!(verify_inclusion(&l[0], 0, 6, &proof, &root(&l)).is_err());
    }

    /// Flips one bit, chosen by `pick`, somewhere in a non-empty proof.
    fn flip(proof: &[Hash], pick: u64) -> Vec<Hash> {
        let mut bad = proof.to_vec();
        let len = bad.len() as u64;
        if let Some(h) = bad.get_mut((pick % len) as usize) {
            h[(pick / len % 32) as usize] ^= 1 << (pick / len / 32 % 8);
        }
        bad
    }

    /// A subtree hash as `prove` gets it after a prune at `p`: kept frontier
    /// peaks below `p`, leaves above, and splitting ranges that straddle it.
    fn pruned(a: u64, b: u64, p: u64, kept: &[(u64, u64, Hash)], l: &[Hash]) -> Result<Hash, MerkleError> {
        if a >= p {
            return Ok(root(&l[a as usize..b as usize]));
        }
        if let Some((_, _, h)) = kept.iter().find(|(s, e, _)| (*s, *e) == (a, b)) {
            return Ok(*h);
        }
        let mid = a + split(b - a);
        Ok(node_hash(&pruned(a, mid, p, kept, l)?, &pruned(mid, b, p, kept, l)?))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn frontier_and_proofs_agree_with_the_definition(n in 1usize..300, pick in any::<u64>()) {
            // One leaf beyond the tree, so the head of size n + 1 is at hand.
            let all: Vec<Hash> = (0..=n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let (l, size) = (&all[..n], n as u64);
            let mut f = Frontier::new();
            let mut states = vec![f.clone()];
            for leaf in &all {
                f.push(*leaf);
                states.push(f.clone());
            }
            let heads: Vec<Hash> = states.iter().map(Frontier::root).collect();
            for (k, state) in states.iter().enumerate() {
                prop_assert_eq!(state.size(), k as u64);
                prop_assert_eq!(heads[k], root(&all[..k]), "frontier of {} leaves", k);
            }
            let r = heads[n];
            // Proofs served from a pruned journal, as if retention cut at `p`.
            let p = pick % (size + 1);
            let kept = states[p as usize].subtrees();
            prop_assert_eq!(kept.iter().map(|(s, e, _)| e - s).sum::<u64>(), p);
            for (s, e, h) in &kept {
                prop_assert_eq!(*h, root(&l[*s as usize..*e as usize]));
            }
            for i in 0..size {
                let leaf = &l[i as usize];
                let proof = inclusion_proof(l, i).unwrap();
                prop_assert_eq!(verify_inclusion(leaf, i, size, &proof, &r), Ok(()));
                if i >= p {
                    let served = inclusion_proof_with(size, i, &|a, b| pruned(a, b, p, &kept, l));
                    prop_assert_eq!(served.as_ref(), Ok(&proof));
                }
                if !proof.is_empty() {
                    prop_assert!(verify_inclusion(leaf, i, size, &flip(&proof, pick ^ i), &r).is_err());
                    prop_assert!(verify_inclusion(leaf, i, size, &proof[1..], &r).is_err());
                }
                prop_assert!(verify_inclusion(leaf, i, size, &[&proof[..], &[r]].concat(), &r).is_err());
                prop_assert!(verify_inclusion(&leaf_hash(b"x"), i, size, &proof, &r).is_err());
                for j in [i.wrapping_sub(1), i + 1, i ^ 2, size] {
                    prop_assert!(j == i || verify_inclusion(leaf, j, size, &proof, &r).is_err(), "index {}", j);
                }
                for s in [size * 2, size / 2] {
                    prop_assert!(verify_inclusion(leaf, i, s, &proof, &r).is_err(), "size {}", s);
                }
                // Against the true head of another size, the proof always fails.
                for s in [size - 1, size + 1] {
                    prop_assert!(verify_inclusion(leaf, i, s, &proof, &heads[s as usize]).is_err());
                }
            }
            for old in 0..=size {
                let h_old = heads[old as usize];
                let proof = consistency_proof(l, old).unwrap();
                prop_assert_eq!(verify_consistency(old, size, &h_old, &r, &proof), Ok(()), "{} -> {}", old, size);
                if old == 0 {
                    continue; // Every tree extends the empty one.
                }
                prop_assert!(verify_consistency(old, size, &h_old, &heads[n + 1], &proof).is_err());
                prop_assert!(verify_consistency(old, size, &heads[old as usize - 1], &r, &proof).is_err());
                if old == size {
                    continue;
                }
                prop_assert!(verify_consistency(old, size, &h_old, &r, &flip(&proof, pick ^ old)).is_err());
                prop_assert!(verify_consistency(old, size, &h_old, &r, &proof[1..]).is_err());
                prop_assert!(verify_consistency(old, size, &h_old, &r, &[&proof[..], &[r]].concat()).is_err());
                for (o, s) in [(old - 1, size), (old + 1, size), (old, size + 1), (old, size - 1)] {
                    if 0 < o && o <= s {
                        let (ho, hs) = (&heads[o as usize], &heads[s as usize]);
                        prop_assert!(verify_consistency(o, s, ho, hs, &proof).is_err(), "{} -> {}", o, s);
                    }
                }
            }
        }
    }
}
