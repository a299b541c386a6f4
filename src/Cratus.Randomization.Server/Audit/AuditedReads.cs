using Cratus.Randomization.Server.Persistence;

namespace Cratus.Randomization.Server.Audit;

/// <summary>An unblinded read to record: who read what, at which site.</summary>
public sealed record AuditedRead(AuditActor Actor, string Action, string Target, string Site);

/// <summary>
/// Records the audit events of reads (the pharmacy's dose orders) in shared transactions. A read is answered only once
/// its event is committed and durable, as before; but the reads that arrive while one batch is being written share the
/// next one, so a busy pharmacy takes one write turn and one flush for many reads instead of one each.
/// </summary>
public sealed class AuditedReads
{
    private readonly Batches<AuditedRead> _batches;

    public AuditedReads(IServiceScopeFactory scopes) => _batches = new Batches<AuditedRead>(async reads =>
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditTrail>();
        // Not cut short by any one reader's deadline: the others in the batch still wait for it.
        await db.InTransactionAsync(async t =>
        {
            foreach (var read in reads) await audit.AppendAsync(read.Actor, read.Action, read.Target, t, site: read.Site);
            return reads.Count;
        }, CancellationToken.None, WriteSerialization.FinerLocks);
    });

    /// <summary>Completes when <paramref name="read"/>'s event is committed; fails (nothing is to be answered) if it could not be.</summary>
    public Task RecordAsync(AuditedRead read, CancellationToken ct) => _batches.AddAsync(read).WaitAsync(ct);
}
