using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cratus.Randomization.Domain;

/// <summary>
/// The actions that are signed electronically (DOMAIN.md, "Electronic signatures"). Each names its record by one id:
/// the unblinding request id, the participant id, the cohort number, the trial id, or the SHA-256 of an imported list.
/// Adding a signed action is one value here (and its record id in <see cref="SignedActions.RecordIdProblem"/>).
/// </summary>
public enum SignedAction
{
    /// <summary>Approving a controlled unblinding; the record is the unblinding request id (U-...).</summary>
    UnblindingApproval = 1,
    /// <summary>An emergency unblinding; the record is the participant id.</summary>
    EmergencyUnblinding = 2,
    /// <summary>A DSMB decision; the record is the current cohort number.</summary>
    DsmbDecision = 3,
    /// <summary>Generating the schedule; the record is the trial id.</summary>
    ScheduleGeneration = 4,
    /// <summary>Importing the schedule; the record is the SHA-256 (lowercase hex) of the uploaded CSV.</summary>
    ScheduleImport = 5,
    /// <summary>Amending the schedule to add a site; the record is the new site's code for a generated amendment, the
    /// SHA-256 (lowercase hex) of the uploaded CSV for an imported one.</summary>
    ScheduleAmendment = 6,
    /// <summary>Marking a participant randomized in error; the record is the participant id.</summary>
    RandomizedInError = 7,
    /// <summary>Quality assurance's release (or exceptional release) of a product lot; the record is the lot number.</summary>
    LotRelease = 8,
    /// <summary>A pharmacist's preparation of a dose; the record is the participant id the dose is for.</summary>
    DosePreparation = 9,
    /// <summary>The second pharmacist's check of a prepared dose; the record is the dose's product id (CP-...).</summary>
    PreparationCheck = 10,
}

/// <summary>What a signature means (21 CFR 11.50(a)(3)); part of the signature, shown wherever it is.</summary>
public enum SignatureMeaning
{
    /// <summary>The signer approves the record.</summary>
    Approval = 1,
    /// <summary>The signer has reviewed the record.</summary>
    Review = 2,
    /// <summary>The signer takes responsibility for the record.</summary>
    Responsibility = 3,
    /// <summary>The signer is the author of the record.</summary>
    Authorship = 4,
}

public static class SignedActions
{
    /// <summary>The lowercase words of an action or a meaning, as shown to people ("unblinding approval").</summary>
    public static string Words<T>(T value) where T : struct, Enum =>
        string.Concat(value.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>Why <paramref name="recordId"/> cannot name a record of <paramref name="action"/>, or null when it can.</summary>
    public static string? RecordIdProblem(SignedAction action, string? recordId) => action switch
    {
        _ when string.IsNullOrEmpty(recordId) => "record_id is required: the id of the record the signature is for.",
        SignedAction.UnblindingApproval when !Identifiers.IsValidUnblindingRequestId(recordId) => "record_id must be the unblinding request id (U-...).",
        SignedAction.EmergencyUnblinding when !Identifiers.IsValidParticipantId(recordId) => "record_id must be the participant id (P-...).",
        SignedAction.RandomizedInError when !Identifiers.IsValidParticipantId(recordId) => "record_id must be the participant id (P-...).",
        SignedAction.DosePreparation when !Identifiers.IsValidParticipantId(recordId) => "record_id must be the participant id (P-...) the dose is for.",
        SignedAction.PreparationCheck when !DosePreparation.IsValidProductId(recordId) => "record_id must be the prepared dose's product id (CP-...).",
        SignedAction.DsmbDecision when !int.TryParse(recordId, NumberStyles.None, CultureInfo.InvariantCulture, out var c) || c < 1 || c > 99
            => "record_id must be the current cohort number (1, 2, ...).",
        SignedAction.ScheduleImport when recordId.Length != 64 || !recordId.All(char.IsAsciiHexDigitLower)
            => "record_id must be the SHA-256 of the CSV to import, in lowercase hex.",
        SignedAction.ScheduleAmendment when !Identifiers.IsValidCode(recordId) && (recordId.Length != 64 || !recordId.All(char.IsAsciiHexDigitLower))
            => "record_id must be the new site's code (generated lists) or the SHA-256 of the CSV to import, in lowercase hex.",
        _ when recordId.Length > 64 || recordId.Any(char.IsControl) => "record_id is at most 64 characters.",
        _ when !Enum.IsDefined(action) => "action is not one of the signed actions.",
        _ => null,
    };

    /// <summary>
    /// The canonical content of a record to sign: its parts, each length-prefixed, so that no two different records
    /// read the same. Times go in as Unix seconds.
    /// </summary>
    public static string Content(params object?[] parts) => string.Concat(parts.Select(p =>
    {
        var text = p switch
        {
            null => "",
            DateTimeOffset t => t.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => p.ToString() ?? "",
        };
        return $"{text.Length.ToString(CultureInfo.InvariantCulture)}:{text}\n";
    }));

    /// <summary>SHA-256 of <paramref name="content"/>, lowercase hex: the record id of an imported list.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));
}

/// <summary>
/// The human-readable form of one signature (21 CFR 11.50): the signer's printed full name, user name and role, the
/// UTC date and time of signing, and the meaning. Invariants: every part is present; the time is whole seconds, UTC.
/// </summary>
public sealed record SignatureManifestation
{
    public SignatureManifestation(string fullName, string userName, string role, DateTimeOffset signedAt, SignatureMeaning meaning)
    {
        if (string.IsNullOrWhiteSpace(fullName)) throw new ArgumentException("a signature shows the signer's full name", nameof(fullName));
        if (string.IsNullOrWhiteSpace(userName)) throw new ArgumentException("a signature names its signer", nameof(userName));
        if (string.IsNullOrWhiteSpace(role)) throw new ArgumentException("a signature shows the signer's role", nameof(role));
        if (!Enum.IsDefined(meaning)) throw new ArgumentException("a signature has one of the fixed meanings", nameof(meaning));
        FullName = fullName.Trim();
        UserName = userName;
        Role = role;
        SignedAt = DateTimeOffset.FromUnixTimeSeconds(signedAt.ToUnixTimeSeconds());
        Meaning = meaning;
    }

    public string FullName { get; }
    public string UserName { get; }
    public string Role { get; }
    public DateTimeOffset SignedAt { get; }
    public SignatureMeaning Meaning { get; }

    /// <summary>"Signed by Ada Lovelace (statistician2, statistician) on 2026-11-22 15:00:00 UTC, meaning: approval".</summary>
    public override string ToString() =>
        $"Signed by {FullName} ({UserName}, {Role}) on {SignedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC, meaning: {SignedActions.Words(Meaning)}";

    /// <summary>
    /// The digest that links this signature to its record (21 CFR 11.70): SHA-256 over the action, the record id, the
    /// record's own content and this manifestation, each length-prefixed so no two different inputs read the same.
    /// Stored with the signature and in the audit event of the action, so copying the signature to another record, or
    /// editing either, no longer matches.
    /// </summary>
    public string DigestOf(SignedAction action, string recordId, string recordContent)
    {
        var builder = new StringBuilder();
        foreach (var part in new[]
                 {
                     action.ToString(), recordId, recordContent, FullName, UserName, Role,
                     SignedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), Meaning.ToString(),
                 })
            builder.Append(part.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(part).Append('\n');
        return SignedActions.Sha256Hex(Encoding.UTF8.GetBytes(builder.ToString()));
    }
}

/// <summary>
/// An opaque, single-use proof that a person re-authenticated (password, and the TOTP code where enrolled) to sign one
/// action on one record. Only the SHA-256 of the proof is kept. Invariants: bound to one signer, action and record;
/// valid for at most <see cref="Lifetime"/> after issue; redeemed at most once (the database keeps one signature per
/// proof, so two concurrent redemptions cannot both commit).
/// </summary>
public sealed class SigningProof
{
    /// <summary>How long a proof may be used after re-authenticating.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private SigningProof()
    {
    }

    public long Id { get; private set; }
    /// <summary>SHA-256 of the proof, lowercase hex; the proof itself is never stored.</summary>
    public string ProofHash { get; private set; } = "";
    /// <summary>The user who re-authenticated, and who alone may sign with it.</summary>
    public string Signer { get; private set; } = "";
    public SignedAction Action { get; private set; }
    public string RecordId { get; private set; } = "";
    public DateTimeOffset IssuedAt { get; private set; }
    public DateTimeOffset ExpiresAt { get; private set; }
    public DateTimeOffset? RedeemedAt { get; private set; }

    /// <summary>A proof for <paramref name="signer"/> to sign <paramref name="action"/> on <paramref name="recordId"/>, from <paramref name="now"/>.</summary>
    public static SigningProof Issue(string proofHash, string signer, SignedAction action, string recordId, DateTimeOffset now)
    {
        if (SignedActions.RecordIdProblem(action, recordId) is { } problem) throw TrialRuleException.Invalid("record_id", problem);
        return new SigningProof
        {
            ProofHash = proofHash, Signer = signer, Action = action, RecordId = recordId, IssuedAt = now, ExpiresAt = now + Lifetime,
        };
    }

    /// <summary>
    /// Spends the proof for <paramref name="signer"/> signing <paramref name="action"/> on <paramref name="recordId"/>
    /// at <paramref name="now"/>, or refuses: SIGNING_PROOF_USED once spent, SIGNING_PROOF_INVALID when it was made for
    /// another person, action or record, SIGNING_PROOF_EXPIRED after its lifetime.
    /// </summary>
    public void Redeem(string signer, SignedAction action, string recordId, DateTimeOffset now)
    {
        if (RedeemedAt is not null)
            throw new TrialRuleException(RefusalReason.SigningProofUsed,
                "This signing proof was used already; each signature needs its own. Re-authenticate (SignatureService.Reauthenticate) and sign again.");
        if (!string.Equals(Signer, signer, StringComparison.Ordinal))
            throw NotForThis("it was made for another person: a signature is made with your own password only");
        if (Action != action || !string.Equals(RecordId, recordId, StringComparison.Ordinal))
            throw NotForThis($"it was made to sign {SignedActions.Words(Action)} of {RecordId}, not {SignedActions.Words(action)} of {recordId}");
        if (now >= ExpiresAt)
            throw new TrialRuleException(RefusalReason.SigningProofExpired,
                $"This signing proof expired at {ExpiresAt.UtcDateTime:u} (a proof is valid for {Lifetime.TotalMinutes:0} minutes). Re-authenticate and sign again.");
        RedeemedAt = now;
    }

    /// <summary>
    /// The signature a signed action must carry: a proof and one of the fixed meanings. Either missing is
    /// SIGNATURE_REQUIRED (INVALID_ARGUMENT), naming the field.
    /// </summary>
    public static (string Proof, SignatureMeaning Meaning) RequireSignature(string? proof, SignatureMeaning? meaning)
    {
        var fields = new List<FieldViolation>();
        if (string.IsNullOrEmpty(proof) || proof.Length > 128)
            fields.Add(new FieldViolation("signature.signing_proof", "the signing proof SignatureService.Reauthenticate returned is required"));
        if (meaning is not { } m || !Enum.IsDefined(m))
            fields.Add(new FieldViolation("signature.meaning", "the meaning of the signature is required: approval, review, responsibility or authorship"));
        if (fields.Count > 0)
            throw new TrialRuleException(RefusalReason.SignatureRequired,
                "This action must be signed: re-authenticate with your password (SignatureService.Reauthenticate), then send the signing proof with the meaning of your signature.",
                fields);
        return (proof!, meaning!.Value);
    }

    public static TrialRuleException NotForThis(string why) =>
        new(RefusalReason.SigningProofInvalid, $"The signing proof cannot sign this: {why}. Re-authenticate for this action and record, and sign again.");
}
