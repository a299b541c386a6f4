using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Signatures;

/// <summary>The signature a signed action's request carries: the proof from Reauthenticate and the meaning.</summary>
public sealed record SignatureInput(string? SigningProof, SignatureMeaning? Meaning);

/// <summary>A proof spent inside the action's transaction, waiting for the record's content to be signed.</summary>
public sealed record PendingSignature(SigningProof Proof, SignedAction Action, string RecordId, SignatureManifestation Manifestation);

/// <summary>A stored signature as shown with its record.</summary>
public sealed record SignatureView(SignedAction Action, string RecordId, SignatureManifestation Manifestation, string RecordSha256)
{
    public static SignatureView Of(SignatureRecord r) => new(r.Action, r.RecordId, r.Manifestation, r.RecordSha256);
}

/// <summary>
/// The one way a use case signs (21 CFR Part 11): inside its transaction, <see cref="RedeemAsync"/> spends the proof
/// (<see cref="SigningProof.Redeem"/>: the caller's own, for this action and record, unused, unexpired) before the
/// action's rule runs, and <see cref="AppendSignedAsync"/> appends the action's audit event with the manifestation and
/// the record's digest in its details and stores the signature with it. A refusal anywhere rolls all of it back, the
/// proof included; two uses of one proof cannot both commit (writes are serialized, and the unique index on
/// Signatures.SigningProofId refuses the second).
/// </summary>
public sealed class ElectronicSigning(TrialDbContext db, TimeProvider clock, AuditTrail audit)
{
    /// <summary>SIGNATURE_REQUIRED unless the request carries a proof and a meaning; call before any work.</summary>
    public static void Require(SignatureInput? signature) => SigningProof.RequireSignature(signature?.SigningProof, signature?.Meaning);

    public async Task<PendingSignature> RedeemAsync(Caller caller, SignatureInput? signature, SignedAction action, string recordId, CancellationToken ct)
    {
        var (proofText, meaning) = SigningProof.RequireSignature(signature?.SigningProof, signature?.Meaning);
        var hash = HashOf(proofText);
        var proof = await db.SigningProofs.SingleOrDefaultAsync(p => p.ProofHash == hash, ct)
            ?? throw SigningProof.NotForThis("this service did not issue it");
        var now = clock.GetUtcNow();
        proof.Redeem(caller.Subject, action, recordId, now);
        var fullName = await db.Users.AsNoTracking().Where(u => u.UserName == caller.Subject).Select(u => u.FullName).SingleOrDefaultAsync(ct);
        // An account created before full names were kept prints its user name until an administrator adds one.
        var manifestation = new SignatureManifestation(string.IsNullOrWhiteSpace(fullName) ? caller.Subject : fullName, caller.Subject,
            TrialRoles.ClaimValue(caller.Role), now, meaning);
        return new PendingSignature(proof, action, recordId, manifestation);
    }

    /// <summary>
    /// Appends the signed action's audit event, its details ending with the manifestation and the SHA-256 that binds it
    /// to <paramref name="recordContent"/>, and stores the signature linked to that event.
    /// </summary>
    public async Task<SignatureView> AppendSignedAsync(PendingSignature pending, string recordContent, AuditActor actor, string auditAction,
        string target, CancellationToken ct, string site = "", string reason = "", string details = "")
    {
        var digest = pending.Manifestation.DigestOf(pending.Action, pending.RecordId, recordContent);
        var signed = $"{pending.Manifestation}; record sha256 {digest}";
        var sequence = await audit.AppendAsync(actor, auditAction, target, ct, site, reason, details.Length == 0 ? signed : $"{details}; {signed}");
        var m = pending.Manifestation;
        db.Signatures.Add(new SignatureRecord
        {
            Action = pending.Action,
            RecordId = pending.RecordId,
            SignerUserName = m.UserName,
            SignerFullName = m.FullName,
            SignerRole = m.Role,
            SignedAt = m.SignedAt,
            Meaning = m.Meaning,
            RecordSha256 = digest,
            SigningProofId = pending.Proof.Id,
            AuditSequence = sequence,
        });
        return new SignatureView(pending.Action, pending.RecordId, m, digest);
    }

    /// <summary>The signatures stored with the audit events of <paramref name="sequences"/>, by event.</summary>
    public async Task<IReadOnlyDictionary<long, SignatureView>> ForAuditEventsAsync(IReadOnlyCollection<long> sequences, CancellationToken ct) =>
        sequences.Count == 0
            ? new Dictionary<long, SignatureView>()
            : (await db.Signatures.AsNoTracking().Where(s => sequences.Contains(s.AuditSequence)).ToListAsync(ct))
                .ToDictionary(s => s.AuditSequence, SignatureView.Of);

    /// <summary>The signatures of <paramref name="action"/> on the records <paramref name="recordIds"/>, the latest per record.</summary>
    public async Task<IReadOnlyDictionary<string, SignatureView>> ForRecordsAsync(SignedAction action, IReadOnlyCollection<string> recordIds, CancellationToken ct) =>
        recordIds.Count == 0
            ? new Dictionary<string, SignatureView>()
            : (await db.Signatures.AsNoTracking().Where(s => s.Action == action && recordIds.Contains(s.RecordId)).ToListAsync(ct))
                .GroupBy(s => s.RecordId).ToDictionary(g => g.Key, g => SignatureView.Of(g.MaxBy(s => s.Id)!));

    public static string HashOf(string proof) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(proof)));
}
