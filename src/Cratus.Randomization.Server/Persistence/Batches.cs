namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// Serves many waiters with one piece of work at a time (group commit): whoever asks while a batch is being done is
/// served by the next one, which begins after they asked. Each waiter hears when its own batch is done, or why it
/// failed; the next batch is tried afresh. Used for the write-ahead log's flush and for the audit events of reads.
/// </summary>
internal sealed class Batches<T>(Func<IReadOnlyList<T>, Task> doBatch)
{
    private readonly Lock _gate = new();
    private List<(T Item, TaskCompletionSource Done)>? _waiting;
    private bool _running;

    /// <summary>Completes once a batch holding <paramref name="item"/> is done; fails as that batch failed.</summary>
    public Task AddAsync(T item)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            (_waiting ??= []).Add((item, done));
            if (_running) return done.Task;
            _running = true;
        }
        _ = Task.Run(RunWhileAskedAsync, CancellationToken.None);
        return done.Task;
    }

    private async Task RunWhileAskedAsync()
    {
        while (true)
        {
            List<(T Item, TaskCompletionSource Done)> batch;
            lock (_gate)
            {
                if (_waiting is null)
                {
                    _running = false;
                    return;
                }
                (batch, _waiting) = (_waiting, null);
            }
            try
            {
                await doBatch([.. batch.Select(b => b.Item)]);
                foreach (var (_, done) in batch) done.SetResult();
            }
            catch (Exception ex)
            {
                foreach (var (_, done) in batch) done.SetException(ex);
            }
        }
    }
}
