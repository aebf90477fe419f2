//! Every way `verify` refuses a token, at the library level (issue 5,
//! acceptance item 3): unknown keys, keys outside their namespace, group or
//! validity window, tokens for another statement, database or impact,
//! expired or used twice, self-approval, one principal counted twice, and
//! any changed byte. Each refusal names the token and why.

use dbguard::ErrorKind;
use dbguard::policy::approval::{AllowedSigners, Token, sign, verify};

use crate::approval::{
    DIGEST, STATEMENT, expected, never_used, pub_line, refused, request, setup, ssh_fingerprint,
};

#[test]
fn refuses_unknown_key() {
    let s = setup();
    let mallory = s.keys.make("mallory");
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &mallory).unwrap().encode();
    let fp = ssh_fingerprint(&mallory);
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1st token", "unknown key", &fp, "not listed"],
    );
}

#[test]
fn refuses_key_listed_for_another_namespace() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.carol).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1st token", "unknown key", "namespace `dbguard`"],
    );
}

#[test]
fn refuses_listed_key_outside_required_group() {
    let s = setup();
    // The request shows the groups the change needs, as a real one does
    // (and as a token is held to since issue 15).
    let mut req = request(STATEMENT, DIGEST, 900);
    req.from = vec!["dba".to_owned()];
    let line = req.encode();
    let token = sign(&line, &s.dave).unwrap().encode();
    let from = vec!["dba".to_owned()];
    refused(
        verify(
            std::slice::from_ref(&token),
            &expected(STATEMENT, DIGEST, &from),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1st token", "dave@example.org", "is not in group `dba`"],
    );
    // A token for a request that accepts dave's group is fine.
    let from = vec!["dba".to_owned(), "oncall".to_owned()];
    let mut req = request(STATEMENT, DIGEST, 900);
    req.from = from.clone();
    let token = sign(&req.encode(), &s.dave).unwrap().encode();
    let ok = verify(
        &[token],
        &expected(STATEMENT, DIGEST, &from),
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .unwrap();
    assert_eq!(ok[0].principal, "dave@example.org");
}

#[test]
fn refuses_token_for_another_statement() {
    let s = setup();
    let line = request("DELETE FROM orders WHERE id = 8", DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "1st token",
            "signed for a different change",
            "DELETE FROM orders WHERE id = 8",
        ],
    );
}

#[test]
fn refuses_token_for_another_database() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.system_identifier = Some("7309999999999999999");
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &mut never_used),
        &[
            "1st token",
            "signed for a different change",
            "database shop",
        ],
    );
}

#[test]
fn refuses_same_statement_after_impact_changed() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let now_digest = "0000000000000000111111111111111122222222222222223333333333333333";
    refused(
        verify(
            &[token],
            &expected(STATEMENT, now_digest, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "1st token",
            "the impact changed since it was signed",
            "a new request is needed",
        ],
    );
}

#[test]
fn refuses_expired_token() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 60);
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.now = req.expires_at + 125;
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &mut never_used),
        &["1st token", "expired at", "2 min ago"],
    );
}

#[test]
fn refuses_token_used_twice() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let nonce = req.nonce.clone();
    let mut used = move |n: &str| n == nonce;
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut used,
        ),
        &["1st token", "already used"],
    );
}

#[test]
fn refuses_self_approval() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.operator = "alice@example.org".to_owned();
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.operator = "alice@example.org";
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &mut never_used),
        &["1st token", "self-approval", "alice@example.org"],
    );
}

/// Issue 15, finding 5: the operator is who their key proves. A token
/// signed with that key is no approval, whatever principal the request
/// names; nor is one by any principal the operator's key is listed under.
#[test]
fn refuses_the_operators_key_and_every_principal_of_it() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let alice_fp = dbguard::policy::approval::fingerprint(
        &ssh_key::PublicKey::read_openssh_file(&s.alice.with_extension("pub")).unwrap(),
    );
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.operator_key = &alice_fp;
    refused(
        verify(
            std::slice::from_ref(&token),
            &exp,
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "1st token",
            "self-approval",
            "operator's own key",
            &alice_fp,
        ],
    );
    let principals = ["ops@example.org".to_owned(), "alice@example.org".to_owned()];
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.operator_principals = &principals;
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &mut never_used),
        &["1st token", "self-approval", "alice@example.org"],
    );
}

#[test]
fn two_approvals_need_two_distinct_principals() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.approvals_needed = 2;
    let line = req.encode();
    let by_alice = sign(&line, &s.alice).unwrap().encode();
    let by_dave = sign(&line, &s.dave).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    // The verdict asked for two, as the request says.
    exp.approvals_needed = 2;
    exp.requested = 2;

    refused(
        verify(
            std::slice::from_ref(&by_alice),
            &exp,
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1 of 2 approvals", "alice@example.org", "1 more"],
    );
    // The same approver twice still counts once.
    refused(
        verify(
            &[by_alice.clone(), by_alice.clone()],
            &exp,
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1 of 2 approvals"],
    );
    refused(
        verify(&[], &exp, &s.signers, &s.groups, &mut never_used),
        &["0 of 2 approvals"],
    );
    let ok = verify(
        &[by_alice, by_dave],
        &exp,
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .unwrap();
    let who: Vec<&str> = ok.iter().map(|a| a.principal.as_str()).collect();
    assert_eq!(who, ["alice@example.org", "dave@example.org"]);
}

#[test]
fn refuses_every_flipped_character() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let exp = expected(STATEMENT, DIGEST, &[]);
    // Sanity: the untouched token passes.
    verify(
        std::slice::from_ref(&token),
        &exp,
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .unwrap();
    let prefix = "dbguard-approval:v1:".len();
    let bytes = token.as_bytes();
    for i in prefix..bytes.len() {
        let mut flipped = bytes.to_vec();
        // Another base64url character.
        flipped[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let err = verify(&[flipped], &exp, &s.signers, &s.groups, &mut never_used).expect_err(
            &format!("a token with character {i} changed must be refused"),
        );
        assert_eq!(err.kind, ErrorKind::Approval);
        assert!(
            err.message.starts_with("the 1st token is refused: "),
            "{}",
            err.message
        );
    }
    // A typical one says why.
    let mut one = token.clone().into_bytes();
    one[prefix + 40] = if one[prefix + 40] == b'A' { b'B' } else { b'A' };
    let msg = refused(
        verify(
            &[String::from_utf8(one).unwrap()],
            &exp,
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1st token"],
    );
    assert!(
        msg.contains("does not decode") || msg.contains("signature does not match"),
        "{msg}"
    );
}

#[test]
fn refuses_request_edited_after_signing() {
    let s = setup();
    let line = request("DELETE FROM orders WHERE id = 7", DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap();
    // The operator edits the signed request to cover a bigger change and
    // keeps the old signature.
    let mut edited = token.request.clone();
    edited.statement = "DELETE FROM orders".to_owned();
    let forged = Token {
        request_bytes: serde_json::to_vec(&edited).unwrap(),
        request: edited,
        signature: token.signature.clone(),
    }
    .encode();
    refused(
        verify(
            &[forged],
            &expected("DELETE FROM orders", DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "1st token",
            "signature does not match the request",
            "edited after it was signed",
        ],
    );
}

#[test]
fn names_which_token_failed() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.approvals_needed = 2;
    let line = req.encode();
    let good = sign(&line, &s.alice).unwrap().encode();
    let mallory = s.keys.make("mallory");
    let bad = sign(&line, &mallory).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    // The verdict asked for two, as the request says.
    exp.approvals_needed = 2;
    exp.requested = 2;
    let msg = refused(
        verify(
            &[good, bad, line.clone()],
            &exp,
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "the 2nd token is refused: unknown key",
            "the 3rd token is refused: this is the request, not a token",
        ],
    );
    assert!(!msg.contains("1st"), "{msg}");
}

#[test]
fn refuses_key_outside_its_validity_window() {
    let s = setup();
    let text = format!(
        "dave@example.org namespaces=\"dbguard\",valid-before=\"20200101\" {}\n",
        pub_line(&s.dave)
    );
    let signers = AllowedSigners::parse(&text).unwrap();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.dave).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &signers,
            &s.groups,
            &mut never_used,
        ),
        &[
            "1st token",
            "unknown key",
            "valid only until 2020-01-01 00:00:00 UTC",
        ],
    );
}
