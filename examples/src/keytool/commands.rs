//! The commands behind [`super::run`].

use std::io::Write;
use std::path::{Path, PathBuf};

use milagro_tls::dta::{Combine, DtaError, check_permit_day};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::{self, AnyKey, KeyFile};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, DeploymentId, DtaId,
    MasterShare, P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share, day_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::{EntropySource, OsEntropy};

use super::PinPrompt;
use super::cli::{
    Cli, CombineArgs, Command, DayArgs, DtaCommand, EpochArgs, InitArgs, InspectArgs, IssueArgs,
    IssueKind, OutArgs, PermitsArg, SuiteArg, TokenArgs,
};
use super::error::KeyToolError;
use super::files::{read_key, write_secret};
use crate::time::{format_day, format_unix, parse_date, unix_now};

type Result<T> = std::result::Result<T, KeyToolError>;

macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).map_err(KeyToolError::Output)?
    };
}

pub(super) fn run(cli: &Cli, out: &mut dyn Write, pins: &dyn PinPrompt) -> Result<()> {
    match &cli.command {
        Command::Dta(DtaCommand::Init(a)) => init(a, out),
        Command::Dta(DtaCommand::Issue(a)) => issue(a, out),
        Command::Combine(a) => combine(a, out),
        Command::Token(a) => token(a, out, pins),
        Command::Inspect(a) => inspect(a, out),
        Command::Enroll(a) => super::network::enroll(a, out, pins),
        Command::Renew(a) => super::network::renew(a, out),
        Command::Guard(c) => super::guard::run(c, out),
    }
}

fn now() -> Result<u64> {
    unix_now().ok_or(KeyToolError::Clock)
}

fn identity(input: &str) -> Result<Identity> {
    Identity::new(input).map_err(|source| KeyToolError::Identity {
        input: input.to_owned(),
        source,
    })
}

fn write_key<K: KeyFile>(key: &K, out: &OutArgs) -> Result<()> {
    let pem = key
        .to_pem()
        .map_err(|e| KeyToolError::key_file(&out.out, e))?;
    write_secret(&out.out, &pem, out.force)
}

fn wrong_kind(path: &Path, expected: impl Into<String>, found: &AnyKey) -> KeyToolError {
    KeyToolError::WrongKind {
        path: path.to_owned(),
        expected: expected.into(),
        found: found.label(),
    }
}

fn describe_deployment(out: &mut dyn Write, d: &Deployment) -> Result<()> {
    say!(out, "  suite: {}", d.suite());
    say!(out, "  deployment: {}", d.id());
    say!(out, "  D-TAs: {}", d.dta_count());
    match d {
        Deployment::Cs(c) => say!(out, "  permits: {}", permits_name(c.permits)),
        Deployment::P2p(p) => say!(out, "  epoch length: {} s", p.epoch_seconds),
    }
    Ok(())
}

fn permits_name(p: PermitPolicy) -> &'static str {
    match p {
        PermitPolicy::Required => "required",
        PermitPolicy::Off => "off",
    }
}

// ---------------------------------------------------------------------------
// dta init
// ---------------------------------------------------------------------------

fn init(a: &InitArgs, out: &mut dyn Write) -> Result<()> {
    let rng = OsEntropy;
    let (deployment, joined) = match &a.deployment_from {
        Some(path) => (deployment_from_file(a, path)?, true),
        None => (deployment_from_args(a, &rng)?, a.deployment.is_some()),
    };
    let master = MasterShare::generate(deployment, &rng).map_err(KeyToolError::Setup)?;
    write_key(&master, &a.out)?;

    let verb = if joined { "joined" } else { "created" };
    say!(
        out,
        "{verb} {} deployment {}",
        deployment.suite(),
        deployment.id()
    );
    describe_deployment(out, &deployment)?;
    say!(
        out,
        "D-TA {}: master share written to {} (mode 0600)",
        master.dta(),
        a.out.out.display()
    );
    if !joined {
        say!(out, "the other D-TAs join with:");
        say!(
            out,
            "  milagro dta init {} --deployment {} --out FILE",
            parameters(&deployment),
            deployment.id()
        );
    }
    Ok(())
}

fn suite_checks(a: &InitArgs) -> Result<()> {
    match a.suite {
        SuiteArg::Cs if a.epoch_seconds.is_some() => Err(KeyToolError::Usage(
            "--epoch-seconds is for P2P deployments; a CS deployment takes --permits required|off"
                .into(),
        )),
        SuiteArg::P2p if a.permits.is_some() => Err(KeyToolError::Usage(
            "--permits is for CS deployments; a P2P deployment takes --epoch-seconds L".into(),
        )),
        _ => Ok(()),
    }
}

fn deployment_from_args(a: &InitArgs, rng: &dyn EntropySource) -> Result<Deployment> {
    suite_checks(a)?;
    let dtas = a
        .dtas
        .ok_or_else(|| KeyToolError::Usage("--dtas N is required".into()))?;
    let id = match &a.deployment {
        Some(text) => Some(parse_deployment_id(text)?),
        None => None,
    };
    let random_id = || -> Result<DeploymentId> {
        let mut b = [0u8; 16];
        rng.fill(&mut b).map_err(|_| KeyToolError::Random)?;
        Ok(DeploymentId(b))
    };
    let given_id = id.is_some();
    let deployment = match a.suite {
        SuiteArg::Cs => {
            let permits = match a.permits {
                Some(PermitsArg::Required) => PermitPolicy::Required,
                Some(PermitsArg::Off) => PermitPolicy::Off,
                None => {
                    return Err(KeyToolError::Usage(
                        "a CS deployment needs --permits required|off".into(),
                    ));
                }
            };
            let id = match id {
                Some(id) => id,
                None => random_id()?,
            };
            Deployment::Cs(CsDeployment {
                id,
                dta_count: dtas,
                permits,
            })
        }
        SuiteArg::P2p => {
            let epoch_seconds = a.epoch_seconds.ok_or_else(|| {
                KeyToolError::Usage("a P2P deployment needs --epoch-seconds L".into())
            })?;
            let id = match id {
                Some(id) => id,
                None => random_id()?,
            };
            Deployment::P2p(P2pDeployment {
                id,
                dta_count: dtas,
                epoch_seconds,
            })
        }
    };
    if given_id {
        check_join(a, &deployment)?;
        Ok(deployment)
    } else {
        Ok(with_parameter_check(deployment))
    }
}

/// The parameters a deployment id created here commits to: suite tag,
/// `dta_count`, permit policy or epoch length (docs/protocol.md §5.1).
fn parameter_tag(d: &Deployment) -> [u8; ID_CHECK_BYTES] {
    let id = d.id().0;
    let (suite, policy) = match d {
        Deployment::Cs(c) => (1u8, u32::from(c.permits == PermitPolicy::Required)),
        Deployment::P2p(p) => (2u8, p.epoch_seconds),
    };
    let digest = milagro_tls::pairing::sha256(&[
        b"milagro key tool: deployment parameters",
        &id[..16 - ID_CHECK_BYTES],
        &[suite, d.dta_count()],
        &policy.to_be_bytes(),
    ]);
    let mut tag = [0u8; ID_CHECK_BYTES];
    tag.copy_from_slice(&digest[..ID_CHECK_BYTES]);
    tag
}

/// How many of a created deployment id's 16 bytes check its parameters
/// (the other 12 are random), so that a D-TA joining by id with another
/// `--dtas`, permit policy or epoch length is refused at `dta init` instead
/// of producing shares that never combine.
const ID_CHECK_BYTES: usize = 4;

fn with_parameter_check(mut d: Deployment) -> Deployment {
    let tag = parameter_tag(&d);
    let id = match &mut d {
        Deployment::Cs(c) => &mut c.id,
        Deployment::P2p(p) => &mut p.id,
    };
    id.0[16 - ID_CHECK_BYTES..].copy_from_slice(&tag);
    d
}

/// The `dta init` options that give `d`'s parameters.
fn parameters(d: &Deployment) -> String {
    match d {
        Deployment::Cs(c) => format!(
            "--suite cs --dtas {} --permits {}",
            c.dta_count,
            permits_name(c.permits)
        ),
        Deployment::P2p(p) => format!(
            "--suite p2p --dtas {} --epoch-seconds {}",
            p.dta_count, p.epoch_seconds
        ),
    }
}

fn check_join(a: &InitArgs, d: &Deployment) -> Result<()> {
    if d.id().0[16 - ID_CHECK_BYTES..] == parameter_tag(d) {
        return Ok(());
    }
    let params = parameters(d);
    let id = a.deployment.as_deref().unwrap_or_default();
    Err(KeyToolError::Usage(format!(
        "--deployment {id}: that deployment was not created with {params}; \
         use the exact join line its first D-TA printed (or --deployment-from FILE \
         with a file of the deployment)"
    )))
}

fn parse_deployment_id(text: &str) -> Result<DeploymentId> {
    let bytes = hex::decode(text)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok());
    bytes.map(DeploymentId).ok_or_else(|| {
        KeyToolError::Usage(format!(
            "--deployment: expected 32 hex digits (a 16-byte deployment id), got {text:?}"
        ))
    })
}

fn deployment_from_file(a: &InitArgs, path: &Path) -> Result<Deployment> {
    suite_checks(a)?;
    let deployment = read_key(path)?.deployment();
    let mismatch = |problem: String| KeyToolError::DeploymentMismatch {
        path: path.to_owned(),
        problem,
    };
    let wanted = match a.suite {
        SuiteArg::Cs => milagro_tls::suite::Suite::Cs,
        SuiteArg::P2p => milagro_tls::suite::Suite::P2p,
    };
    if deployment.suite() != wanted {
        return Err(mismatch(format!(
            "its deployment is a {} deployment, but --suite {} was given",
            deployment.suite(),
            wanted.to_string().to_lowercase()
        )));
    }
    if let Some(n) = a.dtas {
        if n != deployment.dta_count() {
            return Err(mismatch(format!(
                "its deployment has {} D-TAs, but --dtas {n} was given",
                deployment.dta_count()
            )));
        }
    }
    match deployment {
        Deployment::Cs(c) => {
            let given = a.permits.map(|p| match p {
                PermitsArg::Required => PermitPolicy::Required,
                PermitsArg::Off => PermitPolicy::Off,
            });
            if let Some(p) = given.filter(|p| *p != c.permits) {
                return Err(mismatch(format!(
                    "its deployment's permit policy is {}, but --permits {} was given",
                    permits_name(c.permits),
                    permits_name(p)
                )));
            }
        }
        Deployment::P2p(p) => {
            if let Some(l) = a.epoch_seconds.filter(|l| *l != p.epoch_seconds) {
                return Err(mismatch(format!(
                    "its deployment's epoch length is {} s, but --epoch-seconds {l} was given",
                    p.epoch_seconds
                )));
            }
        }
    }
    Ok(deployment)
}

// ---------------------------------------------------------------------------
// dta issue
// ---------------------------------------------------------------------------

fn load_master(path: &Path) -> Result<MasterShare> {
    match read_key(path)? {
        AnyKey::MasterShare(m) => Ok(m),
        other => Err(wrong_kind(path, keyfile::LABEL_MASTER_SHARE, &other)),
    }
}

fn resolve_day(d: &DayArgs) -> Result<u32> {
    if let Some(day) = d.day {
        return Ok(day);
    }
    if let Some(text) = &d.date {
        return parse_date(text).ok_or_else(|| {
            KeyToolError::Usage(format!(
                "--date: expected a date YYYY-MM-DD after 1970-01-01, got {text:?}"
            ))
        });
    }
    Ok(day_of(now()?))
}

/// `--epoch E`, or for `--now` the epoch a client uses at unix time `now`
/// (`epoch_of(now − skew)`, docs/protocol.md §7.2): a key for `epoch_of(now)`
/// would be refused by its client for the first seconds of every epoch.
fn resolve_epoch(e: &EpochArgs, deployment: &Deployment, now: u64) -> u32 {
    if let Some(epoch) = e.epoch {
        return epoch;
    }
    match deployment {
        Deployment::P2p(p) => p2p_tls::client_epoch(now, p.epoch_seconds),
        // Issuing refuses a CS master share for a P2P key anyway.
        Deployment::Cs(_) => 0,
    }
}

fn issue(a: &IssueArgs, out: &mut dyn Write) -> Result<()> {
    let master = load_master(&a.master)?;
    let refused = |what: &'static str| {
        move |source: DtaError| KeyToolError::Issue {
            path: a.master.clone(),
            what,
            source,
        }
    };
    let (what, detail, dest) = match &a.what {
        IssueKind::ServerSecret { out: dest } => {
            let what = "CS server secret share";
            write_key(
                &master.issue_cs_server_secret().map_err(refused(what))?,
                dest,
            )?;
            (what, String::new(), dest)
        }
        IssueKind::ClientSecret {
            identity: id,
            out: dest,
        } => {
            let what = "CS client secret share";
            let id = identity(id)?;
            let share = master.issue_cs_client_secret(&id).map_err(refused(what))?;
            write_key(&share, dest)?;
            (what, format!(" for {id}"), dest)
        }
        IssueKind::TimePermit {
            identity: id,
            day,
            out: dest,
        } => {
            let what = "CS time permit share";
            let id = identity(id)?;
            let day = resolve_day(day)?;
            // At most one day ahead (docs/protocol.md §5.5): revocation is
            // "stop issuing", so a permit far ahead would outlive it.
            check_permit_day(day, day_of(now()?)).map_err(refused(what))?;
            let share = master
                .issue_cs_time_permit(&id, day)
                .map_err(refused(what))?;
            write_key(&share, dest)?;
            (
                what,
                format!(" for {id}, day {day} ({})", format_day(day)),
                dest,
            )
        }
        IssueKind::P2pServer {
            identity: id,
            epoch,
            out: dest,
        } => {
            let what = "P2P server key share";
            let id = identity(id)?;
            let epoch = resolve_epoch(epoch, master.deployment(), now()?);
            let share = master
                .issue_p2p_server_key(&id, epoch)
                .map_err(refused(what))?;
            write_key(&share, dest)?;
            (what, format!(" for {id}, epoch {epoch}"), dest)
        }
        IssueKind::P2pClient {
            identity: id,
            epoch,
            out: dest,
        } => {
            let what = "P2P client key share";
            let id = identity(id)?;
            let epoch = resolve_epoch(epoch, master.deployment(), now()?);
            let share = master
                .issue_p2p_client_key(&id, epoch)
                .map_err(refused(what))?;
            write_key(&share, dest)?;
            (what, format!(" for {id}, epoch {epoch}"), dest)
        }
    };
    say!(
        out,
        "D-TA {} of deployment {} issued a {what}{detail}: wrote {} (mode 0600)",
        master.dta(),
        master.deployment().id(),
        dest.out.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// combine
// ---------------------------------------------------------------------------

/// The public fields that must agree between shares.
struct Meta {
    deployment: Deployment,
    identity: Option<Identity>,
    day: Option<u32>,
    epoch: Option<u32>,
    dta: Option<DtaId>,
}

fn meta(key: &AnyKey) -> Meta {
    let (day, epoch) = day_and_epoch(key);
    Meta {
        deployment: key.deployment(),
        identity: key.identity().cloned(),
        day,
        epoch,
        dta: key.dta(),
    }
}

fn day_and_epoch(key: &AnyKey) -> (Option<u32>, Option<u32>) {
    match key {
        AnyKey::CsTimePermit(k) => (Some(k.day()), None),
        AnyKey::CsTimePermitShare(s) => (Some(s.partial().day()), None),
        AnyKey::P2pServerKey(k) => (None, Some(k.epoch())),
        AnyKey::P2pServerKeyShare(s) => (None, Some(s.partial().epoch())),
        AnyKey::P2pClientKey(k) => (None, Some(k.epoch())),
        AnyKey::P2pClientKeyShare(s) => (None, Some(s.partial().epoch())),
        _ => (None, None),
    }
}

/// The files a combine error is about: the first file and the first one that
/// differs from it in the field the error names, the files of a duplicated
/// D-TA, or all of them.
fn culprits(err: &DtaError, paths: &[PathBuf], metas: &[Meta]) -> Vec<PathBuf> {
    let first = match metas.first() {
        Some(m) => m,
        None => return paths.to_vec(),
    };
    let differs: Option<fn(&Meta, &Meta) -> bool> = match err {
        DtaError::MixedDeployments { .. } => Some(|a, b| a.deployment != b.deployment),
        DtaError::MixedIdentities { .. } => Some(|a, b| a.identity != b.identity),
        DtaError::MixedDays { .. } => Some(|a, b| a.day != b.day),
        DtaError::MixedEpochs { .. } => Some(|a, b| a.epoch != b.epoch),
        _ => None,
    };
    if let Some(differs) = differs {
        if let Some(i) = metas.iter().position(|m| differs(first, m)) {
            return [paths.first(), paths.get(i)]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        }
    }
    if let DtaError::DuplicateDta(dta) = err {
        return paths
            .iter()
            .zip(metas)
            .filter(|(_, m)| m.dta == Some(*dta))
            .map(|(p, _)| p.clone())
            .collect();
    }
    paths.to_vec()
}

fn combine_as<K>(
    keys: Vec<AnyKey>,
    paths: &[PathBuf],
    metas: &[Meta],
    take: fn(AnyKey) -> Option<Share<K>>,
) -> Result<K>
where
    K: Combine,
{
    let shares: Vec<Share<K>> = keys.into_iter().filter_map(take).collect();
    K::combine(&shares).map_err(|source| KeyToolError::Combine {
        files: culprits(&source, paths, metas),
        source,
    })
}

fn combine(a: &CombineArgs, out: &mut dyn Write) -> Result<()> {
    let paths = &a.shares;
    let keys = paths
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<Vec<_>>>()?;
    let (Some(first), Some(first_path)) = (keys.first(), paths.first()) else {
        return Err(KeyToolError::Usage("combine needs share files".into()));
    };
    let label = first.label();
    if first.dta().is_none() || matches!(first, AnyKey::MasterShare(_)) {
        return Err(wrong_kind(
            first_path,
            "a D-TA's key share (a \"... SHARE\" file from `milagro dta issue`)",
            first,
        ));
    }
    for (path, key) in paths.iter().zip(&keys).skip(1) {
        if key.label() != label {
            return Err(wrong_kind(
                path,
                format!("{label} (the kind of {})", first_path.display()),
                key,
            ));
        }
    }
    let metas: Vec<Meta> = keys.iter().map(meta).collect();
    let summary = describe_key_meta(first);
    let kind = match first {
        AnyKey::CsServerSecretShare(_) => {
            let key = combine_as::<CsServerSecret>(keys, paths, &metas, |k| match k {
                AnyKey::CsServerSecretShare(s) => Some(s),
                _ => None,
            })?;
            write_key(&key, &a.out)?;
            keyfile::LABEL_CS_SERVER_SECRET
        }
        AnyKey::CsClientSecretShare(_) => {
            let key = combine_as::<CsClientSecret>(keys, paths, &metas, |k| match k {
                AnyKey::CsClientSecretShare(s) => Some(s),
                _ => None,
            })?;
            write_key(&key, &a.out)?;
            keyfile::LABEL_CS_CLIENT_SECRET
        }
        AnyKey::CsTimePermitShare(_) => {
            let key = combine_as::<CsTimePermit>(keys, paths, &metas, |k| match k {
                AnyKey::CsTimePermitShare(s) => Some(s),
                _ => None,
            })?;
            write_key(&key, &a.out)?;
            keyfile::LABEL_CS_TIME_PERMIT
        }
        AnyKey::P2pServerKeyShare(_) => {
            let key = combine_as::<P2pServerKey>(keys, paths, &metas, |k| match k {
                AnyKey::P2pServerKeyShare(s) => Some(s),
                _ => None,
            })?;
            write_key(&key, &a.out)?;
            keyfile::LABEL_P2P_SERVER_KEY
        }
        AnyKey::P2pClientKeyShare(_) => {
            let key = combine_as::<P2pClientKey>(keys, paths, &metas, |k| match k {
                AnyKey::P2pClientKeyShare(s) => Some(s),
                _ => None,
            })?;
            write_key(&key, &a.out)?;
            keyfile::LABEL_P2P_CLIENT_KEY
        }
        other => {
            return Err(wrong_kind(first_path, "a D-TA's key share", other));
        }
    };
    say!(
        out,
        "combined {} shares into a {kind}{summary}: wrote {} (mode 0600)",
        paths.len(),
        a.out.out.display()
    );
    Ok(())
}

fn describe_key_meta(key: &AnyKey) -> String {
    let mut s = String::new();
    if let Some(id) = key.identity() {
        s.push_str(&format!(" for {id}"));
    }
    match day_and_epoch(key) {
        (Some(day), _) => s.push_str(&format!(", day {day} ({})", format_day(day))),
        (_, Some(epoch)) => s.push_str(&format!(", epoch {epoch}")),
        _ => {}
    }
    s
}

// ---------------------------------------------------------------------------
// token
// ---------------------------------------------------------------------------

fn read_pin(a: &TokenArgs, pins: &dyn PinPrompt, digits: PinDigits) -> Result<Pin> {
    let message = format!("PIN ({} digits at most): ", digits.get());
    if a.pin.is_some() || a.pin_file.is_some() {
        let text = super::pin_text(a.pin.as_deref(), a.pin_file.as_deref(), pins, &message)?;
        return Pin::parse(&text, digits).map_err(KeyToolError::Pin);
    }
    if !pins.is_interactive() {
        return Err(KeyToolError::NoTerminal);
    }
    let first = pins.prompt(&message)?;
    let pin = Pin::parse(&first, digits).map_err(KeyToolError::Pin)?;
    let again = pins.prompt("PIN again: ")?;
    if *first != *again {
        return Err(KeyToolError::PinMismatch);
    }
    Ok(pin)
}

fn token(a: &TokenArgs, out: &mut dyn Write, pins: &dyn PinPrompt) -> Result<()> {
    let secret = match read_key(&a.secret)? {
        AnyKey::CsClientSecret(s) => s,
        other => {
            return Err(wrong_kind(
                &a.secret,
                keyfile::LABEL_CS_CLIENT_SECRET,
                &other,
            ));
        }
    };
    let digits = PinDigits::new(a.pin_digits).map_err(KeyToolError::Pin)?;
    let pin = read_pin(a, pins, digits)?;
    // PIN 0 is refused here: its token would be the client secret itself.
    let token = extract_pin(&secret, &pin).map_err(KeyToolError::Pin)?;
    write_key(&token, &a.out)?;
    say!(
        out,
        "extracted the PIN from the client secret of {} (deployment {}): wrote {} (mode 0600)",
        secret.identity(),
        secret.deployment().id,
        a.out.out.display()
    );
    say!(
        out,
        "now delete {}: with the token, the PIN is the second factor",
        a.secret.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------

fn inspect(a: &InspectArgs, out: &mut dyn Write) -> Result<()> {
    let key = read_key(&a.file)?;
    let deployment = key.deployment();
    say!(out, "file: {}", a.file.display());
    say!(out, "kind: {}", key.label());
    describe_deployment(out, &deployment)?;
    if let Some(dta) = key.dta() {
        say!(out, "  D-TA: {dta}");
    }
    if let Some(id) = key.identity() {
        say!(out, "  identity: {id}");
    }
    let (day, epoch) = day_and_epoch(&key);
    if let Some(day) = day {
        say!(out, "  day: {day} ({} UTC)", format_day(day));
    }
    if let (Some(epoch), Deployment::P2p(p)) = (epoch, deployment) {
        let start = u64::from(epoch) * u64::from(p.epoch_seconds);
        say!(
            out,
            "  epoch: {epoch} (from {} for {} s)",
            format_unix(start),
            p.epoch_seconds
        );
    }
    say!(out, "  secret: present, not shown");
    Ok(())
}

#[cfg(test)]
mod tests {
    use milagro_tls::keys::epoch_of;
    use milagro_tls::pairing::OsEntropy;

    use super::*;

    const L: u32 = 3_600;

    fn p2p() -> Deployment {
        Deployment::P2p(P2pDeployment::new(1, L, &OsEntropy).unwrap())
    }

    fn now_flag() -> EpochArgs {
        EpochArgs {
            epoch: None,
            now: true,
        }
    }

    #[test]
    fn now_is_the_epoch_a_client_uses_at_a_boundary() {
        // Five seconds into epoch 490_000: the client's clock, less its skew
        // allowance, is still in the epoch before, and it refuses a key for
        // any later one.
        let now = u64::from(L) * 490_000 + 5;
        assert_eq!(epoch_of(now, L), 490_000);
        assert_eq!(resolve_epoch(&now_flag(), &p2p(), now), 489_999);
        // Once the allowance has passed, the client is in the new epoch.
        let later = now - 5 + p2p_tls::DEFAULT_SKEW_SECS;
        assert_eq!(resolve_epoch(&now_flag(), &p2p(), later), 490_000);
    }

    #[test]
    fn an_explicit_epoch_is_kept() {
        let args = EpochArgs {
            epoch: Some(7),
            now: false,
        };
        assert_eq!(resolve_epoch(&args, &p2p(), u64::from(L) * 490_000 + 5), 7);
    }
}
