using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// Asks the database a trivial question (SELECT 1) once a second in the background, one question at a time, and
/// keeps the answer for the health check. A question not answered within <see cref="HangLimit"/> counts as "down"
/// from that moment, whether or not the driver ever gives up on it: a hung database shows as NOT_SERVING within a
/// couple of seconds, and health probes never wait for the database themselves.
/// </summary>
internal sealed partial class DatabaseProbe(IServiceScopeFactory scopes, ILogger<DatabaseProbe> logger) : BackgroundService, IHealthCheck
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan HangLimit = TimeSpan.FromMilliseconds(1500);

    // Elapsed-time stamps (Stopwatch), not the trial's clock: tests replace that with a fake one that stands still.
    private long _askedAt;
    private volatile bool _asking;
    private volatile string? _failure = "The database has not been asked yet.";

    /// <summary>Asks once now; the host calls it before serving, so the first health answer is a real one.</summary>
    public async Task AskAsync(CancellationToken stopping)
    {
        _askedAt = Stopwatch.GetTimestamp();
        _asking = true;
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            limit.CancelAfter(HangLimit * 2);
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.ExecuteSqlRawAsync("SELECT 1", limit.Token);
            if (_failure is not null) LogReachable(logger);
            _failure = null;
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            if (_failure is null) LogUnreachable(logger, ex);
            _failure = "The database did not answer: " + ex.GetType().Name;
        }
        finally
        {
            _asking = false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        while (await timer.WaitForNextTickAsync(stoppingToken)) await AskAsync(stoppingToken);
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_asking && Stopwatch.GetElapsedTime(_askedAt) > HangLimit)
            return Task.FromResult(HealthCheckResult.Unhealthy($"The database has not answered for {HangLimit.TotalSeconds} s."));
        return Task.FromResult(_failure is { } failure ? HealthCheckResult.Unhealthy(failure) : HealthCheckResult.Healthy());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database does not answer; health is NOT_SERVING until it does")]
    private static partial void LogUnreachable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The database answers again")]
    private static partial void LogReachable(ILogger logger);
}
