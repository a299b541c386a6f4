using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Persistence;

public static class Transactions
{
    // Writers on several nodes can race for the same unique value (the next schedule entry, the next audit
    // sequence number); the database refuses the loser, which runs the whole unit again from fresh reads.
    private const int MaxAttempts = 8;

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction and commits it with everything it added, or nothing at all.
    /// On SQLite the transaction takes the write lock at once (BEGIN IMMEDIATE), so writers queue instead of failing.
    /// It returns once the commit is durable. A unit started inside another (a write that the retry-safe writes
    /// interceptor already runs in a transaction) joins it: its changes are saved at once, the outer unit commits,
    /// and after a conflict the outer unit runs everything again, inner units included.
    /// </summary>
    public static async Task<T> InTransactionAsync<T>(this TrialDbContext db, Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        if (db.Database.CurrentTransaction is not null)
        {
            // Saved at once (inside the outer transaction), so what the caller reads next sees this unit's changes.
            var result = await work(ct);
            await db.SaveChangesAsync(ct);
            return result;
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                db.WriteAttempt = attempt;
                var result = await db.WriteAsync(work, ct);
                db.RunAfterCommit();
                return result;
            }
            catch (DbUpdateException) when (attempt < MaxAttempts)
            {
                db.ForgetAfterCommit();
                db.ChangeTracker.Clear();
                await Task.Delay(TimeSpan.FromMilliseconds(5 * attempt), ct);
            }
            finally
            {
                db.ChangeTracker.Clear();
                db.WriteAttempt = 0;
                db.ForgetAfterCommit();
            }
        }
    }
}
