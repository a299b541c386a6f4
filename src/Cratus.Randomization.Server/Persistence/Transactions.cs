using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Persistence;

public static class Transactions
{
    // Writers on several nodes can race for the same unique value (the next schedule entry, the next audit
    // sequence number); the database refuses the loser, which runs the whole unit again from fresh reads.
    private const int MaxAttempts = 8;

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction and commits it with everything it added, or nothing at all.
    /// On SQLite the transaction takes the write lock at once (BEGIN IMMEDIATE), so writers queue instead of failing;
    /// elsewhere it first takes the trial lock <paramref name="serialization"/> asks for (exclusive by default: no other
    /// write runs beside it; see <see cref="WriteLock"/>). It returns once the commit is durable. A unit started inside
    /// another (a write that the retry-safe writes interceptor already runs in a transaction) joins it: it takes its
    /// trial lock if none is held yet, its changes are saved at once, the outer unit commits, and after a conflict the
    /// outer unit runs everything again, inner units included. A conflict is a unique value taken by another writer,
    /// or the database breaking a deadlock or a serialization failure (SQLSTATE 40P01, 40001): all roll the whole
    /// transaction back, so running it again is safe.
    /// </summary>
    public static async Task<T> InTransactionAsync<T>(this TrialDbContext db, Func<CancellationToken, Task<T>> work, CancellationToken ct,
        WriteSerialization serialization = WriteSerialization.WholeTrial)
    {
        if (db.Database.CurrentTransaction is not null)
        {
            await db.SerializeAsync(serialization, ct);
            // Saved at once (inside the outer transaction), so what the caller reads next sees this unit's changes.
            var result = await work(ct);
            await db.EnsureSerializedAsync(ct);
            await db.SaveChangesAsync(ct);
            return result;
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                db.WriteAttempt = attempt;
                var result = await db.WriteAsync(async t =>
                {
                    await db.SerializeAsync(serialization, t);
                    var done = await work(t);
                    await db.EnsureSerializedAsync(t);
                    return done;
                }, ct);
                db.RunAfterCommit();
                return result;
            }
            catch (Exception ex) when (IsConflict(ex) && attempt < MaxAttempts)
            {
                db.ForgetAfterCommit();
                db.ChangeTracker.Clear();
                db.ForgetLocks();
                await Task.Delay(TimeSpan.FromMilliseconds(5 * attempt), ct);
            }
            finally
            {
                db.ChangeTracker.Clear();
                db.ForgetLocks();
                db.WriteAttempt = 0;
                db.ForgetAfterCommit();
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="ex"/> rolled the whole transaction back because of another writer, so that running the
    /// unit again from fresh reads is safe: any refused save (a unique value another writer took first; nothing was
    /// committed), or a deadlock or serialization failure the database broke by aborting this transaction in a read or
    /// a lock. A lost connection at the commit is not one: the commit may have happened, and only the caller (with its
    /// request id) can safely retry that.
    /// </summary>
    public static bool IsConflict(Exception ex) => ex switch
    {
        DbUpdateException => true,
        System.Data.Common.DbException { SqlState: "40001" or "40P01" } => true,
        InvalidOperationException { InnerException: System.Data.Common.DbException { SqlState: "40001" or "40P01" } } => true,
        _ => false,
    };
}
