using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cratus.Randomization.Domain;

/// <summary>
/// One event of the audit trail: who (user, role, site), when, did what (action) to what (target), why (reason),
/// and details. Events of blinded actions never carry an arm. <see cref="Hash"/> chains it to the event before.
/// </summary>
public sealed record AuditEntry(
    long Sequence,
    long OccurredAtUnixMilliseconds,
    string User,
    string Role,
    string Site,
    string Action,
    string Target,
    string Reason,
    string Details,
    string PreviousHash,
    string Hash,
    string KeyId = "",
    string Mac = "");

/// <summary>A point of the chain recorded outside the database: the sequence number and hash of one event.</summary>
public sealed record AuditHead(long Sequence, string Hash);

/// <summary>The outcome of checking the chain: intact, or the first event where it breaks and why.</summary>
public sealed record AuditVerification(
    bool Intact, long EventsChecked, AuditHead? Head, long? FirstBrokenSequence, string Problem, bool? ExtendsExpectedHead);

/// <summary>
/// The hash chain of the audit trail, keyed. The hash chain alone has no secret: anyone who can write the database
/// can append an event with a correct SHA-256. So each event also carries an HMAC-SHA256 (<see cref="ComputeMac"/>)
/// under a key held outside the database, named by its key id; an event whose MAC does not verify is named as
/// forged or altered. A head recorded elsewhere is signed (<see cref="HeadStatement"/>) so it can be checked offline.
///
/// The hash chain: Each event's hash is SHA-256 over the UTF-8 JSON array
/// [sequence, occurred_at_unix_ms, user, role, site, action, target, reason, details, previous_hash]; the first
/// event's previous hash is 64 zeros. Sequence numbers start at 1 and have no gaps. So editing, deleting or
/// reordering any event breaks the chain at that event; truncating the tail or rewriting everything is caught
/// against a head recorded elsewhere.
/// </summary>
public static class AuditChain
{
    public static readonly string GenesisHash = new('0', 64);

    public static string ComputeHash(long sequence, long occurredAtUnixMs, string user, string role, string site,
        string action, string target, string reason, string details, string previousHash)
    {
        var canonical = JsonSerializer.Serialize(new object[]
        {
            sequence, occurredAtUnixMs, user, role, site, action, target, reason, details, previousHash,
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>
    /// The MAC of one event: HMAC-SHA256 under <paramref name="key"/> over the UTF-8 JSON array
    /// ["cratus-audit-chain-v1", key_id, sequence, hash], lowercase hex. The hash already covers every field and the
    /// previous hash, so the MAC binds the whole event and its place in the chain.
    /// </summary>
    public static string ComputeMac(ReadOnlySpan<byte> key, string keyId, long sequence, string hash)
    {
        var canonical = JsonSerializer.SerializeToUtf8Bytes(new object[] { "cratus-audit-chain-v1", keyId, sequence, hash });
        return Convert.ToHexStringLower(HMACSHA256.HashData(key, canonical));
    }

    /// <summary>
    /// The text a head signature covers, exactly (UTF-8, every line ending in a line feed):
    /// "cratus-audit-head-v1\ntrial:{trialId}\nsequence:{sequence}\nhash:{hash}\n".
    /// </summary>
    public static string HeadStatement(string trialId, AuditHead head) =>
        string.Create(CultureInfo.InvariantCulture, $"cratus-audit-head-v1\ntrial:{trialId}\nsequence:{head.Sequence}\nhash:{head.Hash}\n");

    public static string ComputeHash(AuditEntry e) =>
        ComputeHash(e.Sequence, e.OccurredAtUnixMilliseconds, e.User, e.Role, e.Site, e.Action, e.Target, e.Reason, e.Details, e.PreviousHash);

    /// <summary>Checks events read in ascending sequence order; with <paramref name="expected"/>, also that the
    /// chain still contains that head (it has not been truncated below it or rewritten). With
    /// <paramref name="chainKey"/> (key id to MAC key, null for a key not held), also every event's MAC.</summary>
    public static AuditVerification Verify(IEnumerable<AuditEntry> eventsInSequenceOrder, AuditHead? expected, Func<string, byte[]?>? chainKey = null)
    {
        var previousHash = GenesisHash;
        long expectedSequence = 1;
        long checkedCount = 0;
        AuditHead? head = null;
        bool? extends = expected is null ? null : false;
        foreach (var e in eventsInSequenceOrder)
        {
            string? problem = null;
            if (e.Sequence != expectedSequence)
                problem = e.Sequence > expectedSequence
                    ? string.Create(CultureInfo.InvariantCulture, $"event {expectedSequence} is missing (next stored is {e.Sequence})")
                    : string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} appears out of order");
            else if (e.PreviousHash != previousHash)
                problem = string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} does not link to event {e.Sequence - 1} (moved, reordered or the one before was changed)");
            else if (ComputeHash(e) != e.Hash)
                problem = string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} was changed after it was written");
            else if (chainKey is not null)
                problem = MacProblem(e, chainKey);
            if (problem is not null)
                return new AuditVerification(false, checkedCount, head, Math.Min(e.Sequence, expectedSequence), problem, extends);

            if (expected is not null && e.Sequence == expected.Sequence)
            {
                if (e.Hash != expected.Hash)
                    return new AuditVerification(false, checkedCount, head, e.Sequence,
                        string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} differs from the recorded head: the trail was rewritten"), false);
                extends = true;
            }
            previousHash = e.Hash;
            head = new AuditHead(e.Sequence, e.Hash);
            expectedSequence++;
            checkedCount++;
        }
        if (expected is not null && extends == false)
            return new AuditVerification(false, checkedCount, head, expectedSequence,
                string.Create(CultureInfo.InvariantCulture, $"the trail ends at event {expectedSequence - 1}, before the recorded head {expected.Sequence}: events were removed from its end"), false);
        return new AuditVerification(true, checkedCount, head, null, "", extends);
    }

    private static string? MacProblem(AuditEntry e, Func<string, byte[]?> chainKey)
    {
        if (e.KeyId.Length == 0)
            return string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} is forged or altered: it carries no MAC");
        if (chainKey(e.KeyId) is not { } key)
            return string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} carries a MAC under key '{e.KeyId}', which is not configured: keep every key that events were written under");
        var expected = Encoding.ASCII.GetBytes(ComputeMac(key, e.KeyId, e.Sequence, e.Hash));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(e.Mac)) ? null
            : string.Create(CultureInfo.InvariantCulture, $"event {e.Sequence} is forged or altered: its MAC does not verify (written without the key)");
    }
}
