using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Audit;

/// <summary>Who an audit event is attributed to.</summary>
public sealed record AuditActor(string User, string Role)
{
    public static readonly AuditActor System = new("system", "system");

    public static AuditActor From(Caller caller) => new(caller.Subject, TrialRoles.ClaimValue(caller.Role));
}

/// <summary>The names of audited actions, one place for all of them.</summary>
public static class AuditActions
{
    public const string ParticipantRandomized = "participant.randomized";
    public const string DoseOrderRead = "dose_order.read";
    public const string DoseOrdersListed = "dose_order.queue_read";
    public const string EnrolledInCohort = "participant.enrolled_in_cohort";
    public const string Infused = "participant.infused";
    public const string Withdrawn = "participant.withdrawn";
    public const string SafetyEventReported = "safety_event.reported";
    public const string RandomizedInError = "participant.randomized_in_error";
    public const string DsmbDecision = "dsmb.decision";
    public const string ScheduleGenerated = "schedule.generated";
    public const string ScheduleImported = "schedule.imported";
    public const string ScheduleAmended = "schedule.amended";
    public const string ScheduleResealed = "schedule.resealed";
    public const string EmergencyUnblinding = "unblinding.emergency";
    public const string UnblindingRequested = "unblinding.requested";
    public const string UnblindingApproved = "unblinding.approved";
    public const string UnblindedAllocationsRead = "unblinding.allocations_read";
    /// <summary>A blinded participant export was taken (its format, rows and the SHA-256 of the file in the details).</summary>
    public const string ParticipantsExported = "export.participants";
    /// <summary>An unblinded participant export was taken under an approved unblinding request: an unblinded read.</summary>
    public const string UnblindedParticipantsExported = "unblinding.participants_exported";
    public const string UserCreated = "user.created";
    public const string UserUpdated = "user.updated";
    public const string PasswordReset = "user.password_reset";
    public const string SiteCreated = "site.created";
    public const string SiteUpdated = "site.updated";
    public const string AdministratorBootstrapped = "identity.administrator_bootstrapped";
    public const string SignedIn = "identity.signed_in";
    public const string LockedOut = "identity.locked_out";
    public const string SecondFactorEnabled = "identity.totp_enabled";
    public const string PasswordChanged = "identity.password_changed";
    public const string SignInFailed = "identity.sign_in_failed";
    public const string SignedOut = "identity.signed_out";
    public const string TokenRevoked = "identity.token_revoked";
    public const string SiteSystemRegistered = "site_system.registered";
    public const string SiteSystemSecretRotated = "site_system.secret_rotated";
    public const string SiteSystemRevoked = "site_system.revoked";
    public const string Reauthenticated = "signature.reauthenticated";
    public const string ReauthenticationFailed = "signature.reauthentication_failed";
    public const string TrialClockAdvanced = "trial_clock.advanced";
    public const string LotRegistered = "lot.registered";
    public const string LotReleased = "lot.released";
    public const string LotQuarantined = "lot.quarantined";
    public const string LotExcursionReported = "lot.excursion_reported";
    public const string UnitExcursionReported = "unit.excursion_reported";
    public const string UnitReturned = "unit.returned";
    public const string UnitDestroyed = "unit.destroyed";
    public const string UnitHistoryReadUnblinded = "product_history.unblinded_read";
    public const string DosePrepared = "dose.prepared";
    public const string DosePreparationChecked = "dose.preparation_checked";
    public const string DosePreparationRead = "dose.preparation_read";
    public const string DoseLabelPrinted = "dose.label_printed";
    public const string DoseDispatched = "dose.dispatched";
    public const string DoseReturned = "dose.returned";
    public const string DoseDestroyed = "dose.destroyed";
    public const string BedsideVerified = "bedside.verified";
    public const string BedsideRefused = "bedside.refused";
}

/// <summary>A page of events, with the electronic signature stored with each signed one (by sequence).</summary>
public sealed record AuditPage(
    IReadOnlyList<AuditEntry> Events, long? NextAfterSequence, IReadOnlyDictionary<long, Application.Signatures.SignatureView>? Signatures = null);

public sealed record AuditFilter(string? Action, string? User, string? Target, DateTimeOffset? From, DateTimeOffset? To, long AfterSequence, int PageSize);

/// <summary>
/// Appends to and reads the audit trail. An event is appended inside the transaction of the change it records,
/// so the change and its event are stored together or not at all. Nothing here updates or deletes an event. The chain
/// is one chain for the whole trial, every node included: an append holds <see cref="WriteLock.AuditTail"/> from its
/// read of the head to its commit, so appends link one after another.
/// </summary>
public sealed class AuditTrail(TrialDbContext db, TimeProvider clock, IntegrityKeys keys, Application.Notifications.NotificationComposer notifications)
{
    /// <summary>Appends one event in the current transaction and answers its sequence number. Takes the audit tail
    /// (<see cref="WriteLock.AuditTail"/>): append last in a unit, after the reads and locks its decision needs.</summary>
    public async Task<long> AppendAsync(AuditActor actor, string action, string target, CancellationToken ct,
        string site = "", string reason = "", string details = "")
    {
        if (db.Database.CurrentTransaction is null)
            throw new InvalidOperationException("audit events are appended inside the transaction of the change they record");
        // The chain's head is settled for this unit from here to its commit: every appender of every node holds the
        // audit tail while it reads the head and links to it (and takes it last, so that the wait is short).
        await db.LockAsync(WriteLock.AuditTail, ct);
        // The last event is either one this unit already added, or the newest stored one (read with the totals by
        // SettleTailAsync, or now).
        var pending = db.ChangeTracker.Entries<AuditEventRecord>().Where(e => e.State == EntityState.Added)
            .Select(e => e.Entity).MaxBy(e => e.Sequence);
        var last = pending is not null
            ? new AuditHead(pending.Sequence, pending.Hash)
            : TakeSettledHead() ?? await NewestStored.For(db)(db, ct) ?? new AuditHead(0, AuditChain.GenesisHash);
        _settled = null;
        var sequence = last.Sequence + 1;
        var at = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var hash = AuditChain.ComputeHash(sequence, at, actor.User, actor.Role, site, action, target, reason, details, last.Hash);
        var keyId = keys.ActiveKeyId;
        db.AuditEvents.Add(new AuditEventRecord
        {
            Sequence = sequence,
            OccurredAtUnixMilliseconds = at,
            User = actor.User,
            Role = actor.Role,
            Site = site,
            Action = action,
            Target = target,
            Reason = reason,
            Details = details,
            PreviousHash = last.Hash,
            Hash = hash,
            // Under the active key; an event keeps its key id for ever (history is never re-MACed on rotation).
            KeyId = keyId,
            Mac = AuditChain.ComputeMac(keys.Active(IntegrityKeys.AuditPurpose), keyId, sequence, hash),
        });
        // The one hook of notifications: what this event announces joins the same transaction (NotificationComposer).
        await notifications.ComposeAsync(new(sequence, DateTimeOffset.FromUnixTimeMilliseconds(at), actor, action, target, site, reason), ct);
        return sequence;
    }

    // The head SettleTailAsync read, for the first append of the same transaction.
    private (Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction Transaction, AuditHead Head)? _settled;

    /// <summary>
    /// Takes the audit tail and reads, in one statement, the trial's randomized count and the head of the chain: the
    /// one round trip a randomization makes under the lock every write of every node passes, before its inserts and
    /// its commit. The count is settled until this transaction ends (every change of it holds the tail), and the next
    /// <see cref="AppendAsync"/> of this transaction links to the head read here instead of reading it again. Null
    /// before the first randomization (no totals yet; the append then reads the head itself).
    /// </summary>
    public async Task<int?> SettleTailAsync(string trialId, CancellationToken ct)
    {
        if (db.Database.CurrentTransaction is not { } transaction)
            throw new InvalidOperationException("the audit tail is settled inside the transaction that appends");
        await db.LockAsync(WriteLock.AuditTail, ct);
        _settled = null;
        var tail = await TotalsAndHead.For(db)(db, trialId, ct);
        if (tail is null) return null;
        _settled = (transaction, tail.HeadSequence is { } sequence ? new AuditHead(sequence, tail.HeadHash!) : new AuditHead(0, AuditChain.GenesisHash));
        return tail.Randomized;
    }

    /// <summary>The head <see cref="SettleTailAsync"/> read, once, and only in the transaction it read it in.</summary>
    private AuditHead? TakeSettledHead() =>
        _settled is { } settled && ReferenceEquals(settled.Transaction, db.Database.CurrentTransaction) ? settled.Head : null;

    private sealed record SettledTail(int Randomized, long? HeadSequence, string? HeadHash);

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<SettledTail?>>> TotalsAndHead =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string trialId, CancellationToken ct) =>
            db.TrialTotals.AsNoTracking().Where(t => t.TrialId == trialId)
                .Select(t => new SettledTail(t.Randomized,
                    db.AuditEvents.OrderByDescending(e => e.Sequence).Select(e => (long?)e.Sequence).FirstOrDefault(),
                    db.AuditEvents.OrderByDescending(e => e.Sequence).Select(e => e.Hash).FirstOrDefault()))
                .FirstOrDefault()));

    private static readonly CompiledQuery<Func<TrialDbContext, CancellationToken, Task<AuditHead?>>> NewestStored =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, CancellationToken ct) =>
            db.AuditEvents.AsNoTracking().OrderByDescending(e => e.Sequence).Select(e => new AuditHead(e.Sequence, e.Hash)).FirstOrDefault()));

    public async Task<AuditPage> ListAsync(AuditFilter filter, CancellationToken ct)
    {
        var query = db.AuditEvents.AsNoTracking().Where(e => e.Sequence > filter.AfterSequence);
        if (!string.IsNullOrEmpty(filter.Action)) query = query.Where(e => e.Action == filter.Action);
        if (!string.IsNullOrEmpty(filter.User)) query = query.Where(e => e.User == filter.User);
        if (!string.IsNullOrEmpty(filter.Target)) query = query.Where(e => e.Target == filter.Target);
        if (filter.From is { } from) query = query.Where(e => e.OccurredAtUnixMilliseconds >= from.ToUnixTimeMilliseconds());
        if (filter.To is { } to) query = query.Where(e => e.OccurredAtUnixMilliseconds < to.ToUnixTimeMilliseconds());
        var rows = await query.OrderBy(e => e.Sequence).Take(filter.PageSize + 1).ToListAsync(ct);
        var events = rows.Take(filter.PageSize).Select(ToEntry).ToList();
        return new AuditPage(events, rows.Count > filter.PageSize ? events[^1].Sequence : null);
    }

    /// <summary>Walks the whole chain from event 1, a batch at a time, so memory stays flat however long the trail.</summary>
    public AuditVerification Verify(AuditHead? expected) =>
        AuditChain.Verify(ReadAll(), expected, keyId => keys.Find(IntegrityKeys.AuditPurpose, keyId));

    private IEnumerable<AuditEntry> ReadAll()
    {
        const int batch = 2000;
        var after = long.MinValue;
        while (true)
        {
            var rows = db.AuditEvents.AsNoTracking().Where(e => e.Sequence > after).OrderBy(e => e.Sequence).Take(batch).ToList();
            foreach (var row in rows) yield return ToEntry(row);
            if (rows.Count < batch) yield break;
            after = rows[^1].Sequence;
        }
    }

    private static AuditEntry ToEntry(AuditEventRecord e) => new(e.Sequence, e.OccurredAtUnixMilliseconds, e.User, e.Role, e.Site,
        e.Action, e.Target, e.Reason, e.Details, e.PreviousHash, e.Hash, e.KeyId, e.Mac);
}
