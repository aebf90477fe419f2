//! Approvals: request codes, tokens signed with SSH keys, and their checks.
//!
//! When policy says a change needs a second person, the operator's side
//! builds a [`Request`] — the statement, the target's identity, the
//! operator, the impact summary and its digest, a nonce and an expiry — and
//! prints it as one pasteable line, `dbguard-request:v1:` followed by the
//! base64url (no padding) of the request's canonical JSON bytes.
//!
//! The approver runs `dbguard approve REQUEST`, which shows the change and,
//! once they say yes, signs **those exact bytes** with their SSH key
//! (`ssh-keygen -Y sign -n dbguard`, an SSHSIG signature in namespace
//! `dbguard`). The result is a [`Token`], `dbguard-approval:v1:` followed by
//! the base64url (no padding) of the JSON object
//! `{"request": "<base64url of the request bytes>", "signature": "<armored SSHSIG>"}`.
//! A token carries everything needed to check it later, in another process:
//! [`verify`] checks the signature in process (the `ssh-key` crate), looks
//! the key up in `policies/approvers` (OpenSSH `allowed_signers` format, the
//! format git uses for SSH commit signing), and binds the token to the
//! change about to be applied ([`Expected`]): same statement, database,
//! cluster, operator and impact digest, not expired, nonce never used, the
//! principal in an accepted group and not the operator.
//!
//! `dbguard approve --reject --reason TEXT` prints a [`Rejection`] instead,
//! `dbguard-rejection:v1:...`, signed in its own namespace
//! (`REJECTION_NAMESPACE`) over the request and the reason, so it can never
//! be turned into an approval.
//!
//! # Approving without dbguard
//!
//! An approver who does not have dbguard needs only `ssh-keygen` and
//! `python3` (or coreutils' `basenc`):
//!
//! ```sh
//! REQ='dbguard-request:v1:eyJ2ZXJzaW9uIjox...'   # the line the operator sent
//!
//! # 1. Decode the request into a file and read it (statement, target,
//! #    operator, summary of the impact, expires_at).
//! python3 -c 'import sys,base64; s=sys.argv[1].split(":",2)[2]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))' "$REQ" > request.json
//! python3 -m json.tool request.json
//!
//! # 2. Sign exactly those bytes, in namespace dbguard (writes request.json.sig).
//! ssh-keygen -Y sign -n dbguard -f ~/.ssh/id_ed25519 request.json
//!
//! # 3. Build the token line and send it back to the operator.
//! python3 -c 'import sys,base64,json; b=lambda x: base64.urlsafe_b64encode(x).decode().rstrip("="); r=open(sys.argv[1],"rb").read(); s=open(sys.argv[1]+".sig").read(); print("dbguard-approval:v1:"+b(json.dumps({"request":b(r),"signature":s}).encode()))' request.json
//! ```
//!
//! The same with coreutils only:
//!
//! ```sh
//! s=${REQ#dbguard-request:v1:}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
//! printf %s "$s" | basenc --base64url -d > request.json
//! ssh-keygen -Y sign -n dbguard -f ~/.ssh/id_ed25519 request.json
//! printf '{"request":"%s","signature":"%s"}' "${REQ#dbguard-request:v1:}" "$(awk '{printf "%s\\n", $0}' request.json.sig)" \
//!   | basenc --base64url -w0 | tr -d = | sed 's/^/dbguard-approval:v1:/'; echo
//! ```
//!
//! Decoders accept padded or unpadded, url-safe or standard base64 and
//! ignore whitespace, so a line wrapped by a terminal or a mail client still
//! works.
//!
//! # Layout
//!
//! One file per step of that story: `request` (what is asked), `codec`
//! (the line format the three kinds of line share), `token` (approvals and
//! rejections), `signers` (the approvers file, read by the gate and by
//! `dbguard policy check` alike), `verify` (a token against the change),
//! `operator` (who asks, proven by their key), `sign` (`ssh-keygen -Y
//! sign`), `time` (the clock and how times read) and
//! `cli` (`dbguard approve`).

mod codec;
mod operator;
mod request;
mod sign;
mod signers;
mod time;
mod token;
mod verify;

pub use operator::{OPERATOR_NAMESPACE, Operator, prove};
pub use request::{Request, new_nonce};
pub use sign::sign;
pub(crate) use sign::{default_key, sign_rejection};
pub use signers::{AllowedSigners, Signer, fingerprint};
pub use time::now;
pub(crate) use time::{format_duration, format_time};
pub(crate) use token::REJECTION_PREFIX;
pub use token::{RejectedBy, Rejection, Token};
pub use verify::{Approval, Expected, verify};
