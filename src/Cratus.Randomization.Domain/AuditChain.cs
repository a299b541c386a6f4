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
    string Hash);

/// <summary>A point of the chain recorded outside the database: the sequence number and hash of one event.</summary>
public sealed record AuditHead(long Sequence, string Hash);

/// <summary>The outcome of checking the chain: intact, or the first event where it breaks and why.</summary>
public sealed record AuditVerification(
    bool Intact, long EventsChecked, AuditHead? Head, long? FirstBrokenSequence, string Problem, bool? ExtendsExpectedHead);

/// <summary>
/// The hash chain of the audit trail. Each event's hash is SHA-256 over the UTF-8 JSON array
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

    public static string ComputeHash(AuditEntry e) =>
        ComputeHash(e.Sequence, e.OccurredAtUnixMilliseconds, e.User, e.Role, e.Site, e.Action, e.Target, e.Reason, e.Details, e.PreviousHash);

    /// <summary>Checks events read in ascending sequence order; with <paramref name="expected"/>, also that the
    /// chain still contains that head (it has not been truncated below it or rewritten).</summary>
    public static AuditVerification Verify(IEnumerable<AuditEntry> eventsInSequenceOrder, AuditHead? expected)
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
}
