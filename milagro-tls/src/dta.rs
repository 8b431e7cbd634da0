//! D-TA master shares, issuing key shares, and combining them. (In progress.)
