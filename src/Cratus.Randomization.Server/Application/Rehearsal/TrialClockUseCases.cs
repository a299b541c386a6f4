using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Rehearsal;
using Cratus.Randomization.Server.Security;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Application.Rehearsal;

/// <summary>Move the trial clock forward by <paramref name="AdvanceBy"/>, for the reason given.</summary>
public sealed record AdvanceTrialClockCommand(TimeSpan? AdvanceBy, string Reason);

/// <summary>The trial mode and the trial clock as one node sees them now.</summary>
/// <param name="TrialNow">The trial time, the one every rule reads.</param>
/// <param name="Offset">How far the trial clock runs ahead of the real time (zero in production).</param>
/// <param name="ClockControl">Whether an administrator may move the clock on this server.</param>
public sealed record TrialClockView(TrialMode Mode, DateTimeOffset TrialNow, TimeSpan Offset, bool ClockControl);

/// <summary>A move of the trial clock: the trial time before and after it.</summary>
public sealed record TrialClockMove(TrialClockView Before, TrialClockView After);

/// <summary>
/// Moves a rehearsal's trial clock forward (UAT and training, with Rehearsal:ClockControl on): every window, DSMB
/// timing and approval expiry is judged on the moved time from then on, on every node (<see cref="TrialClockKeeper"/>).
/// Refused in production (the real trial runs on the real time), refused backwards (what was recorded stays in the
/// past), audited with the trial time before and after.
/// </summary>
[Permitted(TrialRole.Administrator)]
public sealed partial class AdvanceTrialClock(
    TrialDbContext db, AuditTrail audit, TimeProvider clock, TrialClock trialClock, IOptions<TrialOptions> trial, IOptions<RehearsalOptions> rehearsal,
    ILogger<AdvanceTrialClock> logger) : UseCase<AdvanceTrialClockCommand, TrialClockMove>
{
    protected override async Task<TrialClockMove> ExecuteAsync(Caller caller, AdvanceTrialClockCommand command, CancellationToken ct)
    {
        var mode = trial.Value.Mode;
        if (mode == TrialMode.Production)
            throw new TrialRuleException(RefusalReason.ProductionClockFixed,
                "This server holds the production trial, which runs on the real time: its trial clock never moves. Move the clock on a UAT or training server.");
        if (!rehearsal.Value.ClockControl)
            throw new TrialRuleException(RefusalReason.ClockControlOff,
                $"The trial clock control is off on this {TrialModes.Title(mode)} server. Set Rehearsal:ClockControl to true and restart to rehearse with a moved clock.");
        var by = command.AdvanceBy ?? throw TrialRuleException.Invalid("advance_by", "advance_by is required: how far to move the trial clock forward (for example 30 days).");
        if (by <= TimeSpan.Zero)
            throw TrialRuleException.Invalid("advance_by", "The trial clock only moves forward: advance_by must be more than zero. What was recorded stays in the past.");
        if (by > RehearsalOptions.MaxAdvance)
            throw TrialRuleException.Invalid("advance_by", $"advance_by may be at most {RehearsalOptions.MaxAdvance.TotalDays:0} days in one move.");
        var reason = Reasons.Require(command.Reason);
        var wall = TrialClock.WallOf(clock);

        var (before, after) = await db.InTransactionAsync(async t =>
        {
            var row = await db.TrialClock.FindAsync([TrialClockRecord.Only], t);
            if (row is null)
            {
                row = new TrialClockRecord { Id = TrialClockRecord.Only };
                db.TrialClock.Add(row);
            }
            // From the stored offset, or this node's when it is ahead (never back).
            var from = TimeSpan.FromMilliseconds(Math.Max(row.OffsetMilliseconds, (long)trialClock.Offset.TotalMilliseconds));
            var to = from + by;
            row.OffsetMilliseconds = (long)to.TotalMilliseconds;
            var now = wall.GetUtcNow();
            var (oldTime, newTime) = (now + from, now + to);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.TrialClockAdvanced, "trial clock", t, reason: reason,
                details: string.Create(CultureInfo.InvariantCulture,
                    $"{TrialModes.Wire(mode)}: trial time {oldTime:yyyy-MM-ddTHH:mm:ssZ} -> {newTime:yyyy-MM-ddTHH:mm:ssZ} (moved forward {by:c})"));
            return (new TrialClockView(mode, oldTime, from, true), new TrialClockView(mode, newTime, to, true));
        }, ct);
        db.AfterCommit(() =>
        {
            trialClock.CatchUp((long)after.Offset.TotalMilliseconds);
            LogAdvanced(logger, TrialModes.Title(mode), after.TrialNow, by, caller.Subject);
        });
        return new TrialClockMove(before, after);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Mode}: trial clock moved forward {By} to {TrialNow:u} by {Subject}")]
    private static partial void LogAdvanced(ILogger logger, string mode, DateTimeOffset trialNow, TimeSpan by, string subject);
}

/// <summary>The trial mode and the trial time now: every signed-in person may know which trial they are in and its date.</summary>
[Permitted(AnyoneSignedIn = true)]
public sealed class GetTrialClock(TimeProvider clock, IOptions<TrialOptions> trial, IOptions<RehearsalOptions> rehearsal) : UseCase<Unit, TrialClockView>
{
    protected override Task<TrialClockView> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => Task.FromResult(Now(clock, trial.Value, rehearsal.Value));

    /// <summary>The view, for a page header that shows the mode without a call.</summary>
    public static TrialClockView Now(TimeProvider clock, TrialOptions trial, RehearsalOptions rehearsal)
    {
        var offset = clock is TrialClock trialClock ? trialClock.Offset : TimeSpan.Zero;
        return new TrialClockView(trial.Mode, clock.GetUtcNow(), offset, trial.Mode != TrialMode.Production && rehearsal.ClockControl);
    }
}
