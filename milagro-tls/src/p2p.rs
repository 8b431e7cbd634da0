//! The Chow–Choo key agreement of the P2P suite. (In progress.)
