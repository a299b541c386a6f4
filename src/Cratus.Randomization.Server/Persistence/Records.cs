using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Persistence;

public enum ScheduleSource
{
    Generated,
    Imported,
}

/// <summary>The schedule in place for a trial (part 0), and each amendment that added a site (parts 1, 2, ...), each
/// with the commitment it published. Unique by (trial, part); never replaced or deleted.</summary>
public sealed class ScheduleRecord
{
    public long Id { get; set; }
    public required string TrialId { get; set; }
    public ScheduleSource Source { get; set; }
    /// <summary>The seed of a generated schedule (hex), sealed; null for an imported one.</summary>
    public string? SeedSealed { get; set; }
    public required string SaltHex { get; set; }
    /// <summary>Block sizes, comma-separated ("3,6"), sealed: they are concealed like the arms.</summary>
    public required string BlockSizesSealed { get; set; }
    public required string CommitmentSha256 { get; set; }
    public DateTimeOffset CommittedAt { get; set; }
    public required string CommittedBy { get; set; }
    public required string Reason { get; set; }
    /// <summary>0 for the schedule put in place, then 1, 2, ... for each amendment, in order.</summary>
    public int Part { get; set; }
    /// <summary>The commitment this part chains to: the part before it; null for part 0.</summary>
    public string? PreviousCommitmentSha256 { get; set; }
    /// <summary>The site an amendment added; null for part 0.</summary>
    public string? SiteCode { get; set; }
    /// <summary>The randomized phase's design (<see cref="Domain.TrialDesign"/>) the schedule was put in place under,
    /// sealed; part 0 only. Checked at every start: a running trial's design cannot change.</summary>
    public string? DesignSealed { get; set; }
}

/// <summary>One line of the schedule. Unique by (stratum, sequence) and by randomization number.</summary>
public sealed class ScheduleEntryRecord
{
    public long Id { get; set; }
    public long ScheduleId { get; set; }
    public required string Stratum { get; set; }
    public int Sequence { get; set; }
    public required string RandomizationNumber { get; set; }
    /// <summary>The arm code, sealed with authenticated encryption bound to this stratum and sequence.</summary>
    public required string ArmSealed { get; set; }
    /// <summary>"keyId:base64" of the keyed MAC binding stratum, sequence, randomization number and sealed arm
    /// (<see cref="Domain.AllocationBinding"/>), so an entry edited before it is used is caught too.</summary>
    public string EntrySeal { get; set; } = "";
}

/// <summary>A site of the trial. Seeded from the trial definition; administrators add sites (before the schedule
/// is in place, since strata are fixed then) and close or reopen them. Never deleted.</summary>
public sealed class SiteRecord
{
    public required string Code { get; set; }
    public required string Name { get; set; }
    public bool Active { get; set; } = true;
}

/// <summary>One event of the append-only audit trail; see <see cref="Domain.AuditChain"/> for the hash chain.</summary>
public sealed class AuditEventRecord
{
    public long Sequence { get; set; }
    public long OccurredAtUnixMilliseconds { get; set; }
    public required string User { get; set; }
    public required string Role { get; set; }
    public required string Site { get; set; }
    public required string Action { get; set; }
    public required string Target { get; set; }
    public required string Reason { get; set; }
    public required string Details { get; set; }
    public required string PreviousHash { get; set; }
    public required string Hash { get; set; }
    /// <summary>The ring key the MAC was computed under; kept for ever, so that rotation never rewrites history.</summary>
    public string KeyId { get; set; } = "";
    /// <summary>HMAC-SHA256 of the event (<see cref="Domain.AuditChain.ComputeMac"/>), lowercase hex.</summary>
    public string Mac { get; set; } = "";
}


/// <summary>The one-time secret that creates the first administrator, kept only as its hash.</summary>
public sealed class BootstrapSecretRecord
{
    public int Id { get; set; }
    public required string SecretHash { get; set; }
    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A user of the embedded user store: one role and, for site roles, the sites served.</summary>
public sealed class TrialUser : Microsoft.AspNetCore.Identity.IdentityUser
{
    public required string Role { get; set; }
    /// <summary>Site codes, comma-separated.</summary>
    public string Sites { get; set; } = "";
    public bool Active { get; set; } = true;
    /// <summary>Set for a one-time password an administrator handed out: no token is issued until it is changed.</summary>
    public bool MustChangePassword { get; set; }
    /// <summary>The person's full name, printed in every electronic signature they make (21 CFR 11.50).</summary>
    public string FullName { get; set; } = "";

    public IReadOnlyList<string> SiteList => Sites.Length == 0 ? [] : Sites.Split(',');
}

/// <summary>A serious adverse event reported by a site. Whether it is treatment-emergent is judged when reported.</summary>
public sealed class SafetyEventRecord
{
    public long Id { get; set; }
    public required string ParticipantId { get; set; }
    public SafetyEventType Type { get; set; }
    public DateOnly Onset { get; set; }
    public bool Serious { get; set; }
    public bool TreatmentEmergent { get; set; }
    public DateTimeOffset ReportedAt { get; set; }
    public required string ReportedBy { get; set; }
}

/// <summary>A decision the DSMB recorded, with its reason.</summary>
public sealed class DsmbDecisionRecord
{
    public long Id { get; set; }
    public DsmbDecisionKind Kind { get; set; }
    public int Cohort { get; set; }
    public DateTimeOffset DecidedAt { get; set; }
    public required string DecidedBy { get; set; }
    public required string Reason { get; set; }
}

/// <summary>
/// Running totals kept in the same transaction as the changes they count, so that "fewer than the target" costs one
/// row read however large the trial grows (counting the participants would grow with it).
/// </summary>
public sealed class TrialTotalsRecord
{
    public required string TrialId { get; set; }
    public int Randomized { get; set; }
}

/// <summary>
/// The first answer to a write, kept under its client-chosen request id (AIP-155) so that a retry gets the same
/// answer and nothing is written twice. Stored in the transaction of the write itself: the write and its answer
/// are kept together or not at all. The request id is the key, so the database refuses a second write under it.
/// The answer is sealed (it may hold an arm, a seed or a first password), bound to its request id and method.
/// </summary>
public sealed class WriteRequestRecord
{
    public required string RequestId { get; set; }
    /// <summary>The gRPC method, such as /cratus.randomization.v1.RandomizationService/Randomize.</summary>
    public required string Method { get; set; }
    /// <summary>Who sent it (user or client) and the SHA-256 of the request without its request id, in hex.</summary>
    public required string CallerSubject { get; set; }
    public required string RequestSha256 { get; set; }
    public required string ReplySealed { get; set; }
    public DateTimeOffset RecordedAt { get; set; }
}

/// <summary>A password a user had, kept as its hash so that none of the last five is chosen again.</summary>
public sealed class PasswordHistoryRecord
{
    public long Id { get; set; }
    public required string UserId { get; set; }
    public required string PasswordHash { get; set; }
    public DateTimeOffset ChangedAt { get; set; }
}

/// <summary>
/// A site's system (EDC, IWRS) with credentials of its own: an OpenID Connect client (client credentials, secret held
/// hashed by the OpenID Connect server) that acts in the site-system role at its sites. Never deleted: a revoked client
/// keeps its record and its place in the audit trail.
/// </summary>
public sealed class SiteSystemRecord
{
    public required string ClientId { get; set; }
    public required string DisplayName { get; set; }
    /// <summary>Site codes, comma-separated.</summary>
    public required string Sites { get; set; }
    public DateTimeOffset RegisteredAt { get; set; }
    public required string RegisteredBy { get; set; }
    public DateTimeOffset SecretIssuedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public string? RevokedBy { get; set; }

    public IReadOnlyList<string> SiteList => Sites.Length == 0 ? [] : Sites.Split(',');
}

/// <summary>
/// One electronic signature, stored with the record it signs (21 CFR 11.50 and 11.70): the action and the record's id,
/// the manifestation (full name, user, role, UTC time, meaning), the SHA-256 that binds it to the record's content, the
/// proof it spent (unique: a proof signs once) and the audit event of the action, whose details carry the same
/// manifestation and digest under the chain's hash. Never updated or deleted.
/// </summary>
public sealed class SignatureRecord
{
    public long Id { get; set; }
    public SignedAction Action { get; set; }
    public required string RecordId { get; set; }
    public required string SignerUserName { get; set; }
    public required string SignerFullName { get; set; }
    public required string SignerRole { get; set; }
    public DateTimeOffset SignedAt { get; set; }
    public SignatureMeaning Meaning { get; set; }
    public required string RecordSha256 { get; set; }
    public long SigningProofId { get; set; }
    public long AuditSequence { get; set; }

    public SignatureManifestation Manifestation => new(SignerFullName, SignerUserName, SignerRole, SignedAt, Meaning);
}
