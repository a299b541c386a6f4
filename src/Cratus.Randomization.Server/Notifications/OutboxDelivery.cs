using Cratus.Randomization.Server.Application.Notifications;
using Cratus.Randomization.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Notifications;

/// <summary>Wakes the delivery worker when a write has committed new messages, so they go out without waiting for the next poll.</summary>
public sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Asks the worker to look now (many calls before it looks count as one).</summary>
    public void Wake()
    {
        try { _wake.Release(); } catch (Exception ex) when (ex is SemaphoreFullException or ObjectDisposedException) { }
    }

    internal Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _wake.WaitAsync(timeout, ct);

    public void Dispose() => _wake.Dispose();
}

/// <summary>Sends one outbox message by its channel; throws when the receiver did not take it.</summary>
public interface INotificationSender
{
    NotificationChannel Channel { get; }

    Task SendAsync(OutboxMessageRecord message, CancellationToken ct);
}

/// <summary>What is waiting in the outbox, for the operator: counts and ages only, never a message's content.</summary>
public sealed record OutboxBacklog(int Waiting, int GivenUp, DateTimeOffset? OldestWaitingSince, int Sent);

/// <summary>
/// Delivers the outbox at least once, in the background, on every node. A message is claimed with a lease (one
/// conditional UPDATE: only one node's claim can succeed, and a crashed node's claim lapses), sent, and marked sent; a
/// failure is tried again after a delay that doubles from <see cref="NotificationOptions.FirstRetryDelay"/> up to
/// <see cref="NotificationOptions.MaxRetryDelay"/>, and given up after <see cref="NotificationOptions.MaxAttempts"/>.
/// A crash after sending and before marking sends the message again after the lease: the receiver drops it by its
/// stable id (README, "Notifications"). Each round also announces what time has brought due
/// (<see cref="NotificationComposer.AnnounceDueAsync"/>) and, when something waits, logs the backlog.
/// </summary>
public sealed partial class OutboxDelivery(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<NotificationOptions> options, OutboxSignal signal,
    IEnumerable<INotificationSender> senders, ILogger<OutboxDelivery> logger) : BackgroundService
{
    private const int Batch = 20;
    private readonly string _node = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    private long _nextBacklogCheck;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.DeliveryEnabled)
        {
            LogDeliveryOff(logger);
            return;
        }
        // Off the start-up path: the host finishes starting (and migrating) first.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RoundAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be away; the next round tries again.
                LogRoundFailed(logger, ex.GetType().Name, ex.Message);
            }
            try
            {
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round: announce what is due, deliver what is due, say what waits.</summary>
    internal async Task RoundAsync(CancellationToken ct)
    {
        await using (var scope = scopes.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<NotificationComposer>().AnnounceDueAsync(ct);
        int delivered;
        do delivered = await DeliverDueAsync(ct);
        while (delivered == Batch && !ct.IsCancellationRequested);
        await ReportBacklogAsync(ct);
    }

    private async Task<int> DeliverDueAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        var messages = db.Set<OutboxMessageRecord>();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var due = await messages.AsNoTracking()
            .Where(m => m.SentAtUnixMilliseconds == null && m.GaveUpAtUnixMilliseconds == null && m.NextAttemptAtUnixMilliseconds <= now
                && (m.LeaseUntilUnixMilliseconds == null || m.LeaseUntilUnixMilliseconds < now))
            .OrderBy(m => m.Id).Take(Batch).ToListAsync(ct);
        var tried = 0;
        foreach (var message in due)
        {
            var leaseUntil = clock.GetUtcNow().Add(options.Value.Lease).ToUnixTimeMilliseconds();
            var at = clock.GetUtcNow().ToUnixTimeMilliseconds();
            // The claim: one UPDATE that only succeeds while nobody else holds a live lease on it.
            var claimed = await messages.Where(m => m.Id == message.Id && m.SentAtUnixMilliseconds == null && m.GaveUpAtUnixMilliseconds == null
                    && (m.LeaseUntilUnixMilliseconds == null || m.LeaseUntilUnixMilliseconds < at))
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseOwner, _node).SetProperty(m => m.LeaseUntilUnixMilliseconds, leaseUntil), ct);
            if (claimed != 1) continue;
            tried++;
            await SendOneAsync(messages, message, ct);
        }
        return tried;
    }

    private async Task SendOneAsync(DbSet<OutboxMessageRecord> messages, OutboxMessageRecord message, CancellationToken ct)
    {
        var mine = messages.Where(m => m.Id == message.Id && m.LeaseOwner == _node);
        try
        {
            var sender = senders.Single(s => s.Channel == message.Channel);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // An attempt ends well inside the lease, so no other node takes the message while it may still be going out.
            attempt.CancelAfter(options.Value.Lease / 2);
            await sender.SendAsync(message, attempt.Token);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            var attempts = message.Attempts + 1;
            var now = clock.GetUtcNow();
            var problem = Problem(ex);
            if (attempts >= options.Value.MaxAttempts)
            {
                await mine.ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, attempts).SetProperty(m => m.LastError, problem)
                    .SetProperty(m => m.GaveUpAtUnixMilliseconds, now.ToUnixTimeMilliseconds())
                    .SetProperty(m => m.LeaseOwner, (string?)null).SetProperty(m => m.LeaseUntilUnixMilliseconds, (long?)null), CancellationToken.None);
                LogGaveUp(logger, message.MessageId, message.Event, message.Recipient, attempts, problem);
                return;
            }
            var next = now + RetryDelay(attempts, options.Value);
            await mine.ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, attempts).SetProperty(m => m.LastError, problem)
                .SetProperty(m => m.NextAttemptAtUnixMilliseconds, next.ToUnixTimeMilliseconds())
                .SetProperty(m => m.LeaseOwner, (string?)null).SetProperty(m => m.LeaseUntilUnixMilliseconds, (long?)null), CancellationToken.None);
            LogRetry(logger, message.MessageId, message.Event, message.Recipient, attempts, next, problem);
            return;
        }
        // Sent: marked at once. A crash between the two sends it again later, with the same id.
        var sentAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await mine.ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, message.Attempts + 1).SetProperty(m => m.SentAtUnixMilliseconds, sentAt)
            .SetProperty(m => m.LeaseOwner, (string?)null).SetProperty(m => m.LeaseUntilUnixMilliseconds, (long?)null).SetProperty(m => m.LastError, (string?)null),
            CancellationToken.None);
        LogSent(logger, message.MessageId, message.Event, message.Recipient, message.Channel);
    }

    /// <summary>The wait after the <paramref name="attempts"/>-th failure: the first delay, doubled for each further failure, capped.</summary>
    public static TimeSpan RetryDelay(int attempts, NotificationOptions options)
    {
        var factor = Math.Pow(2, Math.Min(attempts - 1, 30));
        var delay = TimeSpan.FromMilliseconds(options.FirstRetryDelay.TotalMilliseconds * factor);
        return delay < options.MaxRetryDelay ? delay : options.MaxRetryDelay;
    }

    /// <summary>The outbox's state now: how many wait, since when, how many were given up, how many were sent.</summary>
    public static async Task<OutboxBacklog> BacklogAsync(TrialDbContext db, CancellationToken ct)
    {
        var messages = db.Set<OutboxMessageRecord>().AsNoTracking();
        var waiting = messages.Where(m => m.SentAtUnixMilliseconds == null && m.GaveUpAtUnixMilliseconds == null);
        var count = await waiting.CountAsync(ct);
        var oldest = count == 0 ? (long?)null : await waiting.MinAsync(m => (long?)m.CreatedAtUnixMilliseconds, ct);
        var gaveUp = await messages.CountAsync(m => m.GaveUpAtUnixMilliseconds != null, ct);
        var sent = await messages.CountAsync(m => m.SentAtUnixMilliseconds != null, ct);
        return new OutboxBacklog(count, gaveUp, oldest is { } o ? DateTimeOffset.FromUnixTimeMilliseconds(o) : null, sent);
    }

    /// <summary>The operator's view: a line at most once a minute while messages wait or were given up (counts and age only).</summary>
    private async Task ReportBacklogAsync(CancellationToken ct)
    {
        // Once a minute of real time (the trial clock may stand still or jump in rehearsal).
        if (Environment.TickCount64 < _nextBacklogCheck) return;
        _nextBacklogCheck = Environment.TickCount64 + 60_000;
        await using var scope = scopes.CreateAsyncScope();
        var backlog = await BacklogAsync(scope.ServiceProvider.GetRequiredService<TrialDbContext>(), ct);
        if (backlog.Waiting == 0 && backlog.GivenUp == 0) return;
        LogBacklog(logger, backlog.Waiting, backlog.OldestWaitingSince, backlog.GivenUp);
    }

    private static string Problem(Exception ex)
    {
        var text = $"{ex.GetType().Name}: {ex.Message}";
        return text.Length <= 1000 ? text : text[..1000];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification {MessageId} ({Event}) sent to {Recipient} by {Channel}")]
    private static partial void LogSent(ILogger logger, string messageId, string @event, string recipient, NotificationChannel channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification {MessageId} ({Event}) to {Recipient} failed (attempt {Attempts}); next attempt at {NextAttempt:O}: {Problem}")]
    private static partial void LogRetry(ILogger logger, string messageId, string @event, string recipient, int attempts, DateTimeOffset nextAttempt, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Notification {MessageId} ({Event}) to {Recipient} given up after {Attempts} attempts: {Problem}")]
    private static partial void LogGaveUp(ILogger logger, string messageId, string @event, string recipient, int attempts, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification outbox: {Waiting} waiting (oldest since {OldestSince:O}), {GivenUp} given up")]
    private static partial void LogBacklog(ILogger logger, int waiting, DateTimeOffset? oldestSince, int givenUp);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification round failed, trying again at the next poll: {Kind}: {Problem}")]
    private static partial void LogRoundFailed(ILogger logger, string kind, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification delivery is off on this node (Notifications:DeliveryEnabled is false); messages are kept in the outbox")]
    private static partial void LogDeliveryOff(ILogger logger);
}
