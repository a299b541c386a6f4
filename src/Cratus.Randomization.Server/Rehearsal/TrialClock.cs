namespace Cratus.Randomization.Server.Rehearsal;

/// <summary>
/// The trial clock of a UAT or training server: the real time plus an offset that only grows, moved forward by an
/// administrator (<see cref="Application.Rehearsal.AdvanceTrialClock"/>) so that 30-day windows, DSMB timings and
/// approval expiries can be rehearsed in minutes. It is the one <see cref="TimeProvider"/> every trial rule reads.
/// Timers and elapsed-time stamps stay those of the real clock (a deadline of 5 seconds lasts 5 seconds); sign-in
/// lifetimes (tokens, web sessions) are judged on <see cref="Wall"/>, so a jump of 30 days expires nobody's session.
/// A production server never has one: its clock is <see cref="TimeProvider.System"/>.
/// </summary>
public sealed class TrialClock(TimeProvider wall) : TimeProvider
{
    private long _offsetMilliseconds;

    /// <summary>The real clock under the trial clock.</summary>
    public TimeProvider Wall { get; } = wall;

    /// <summary>How far the trial clock runs ahead of the real time.</summary>
    public TimeSpan Offset => TimeSpan.FromMilliseconds(Interlocked.Read(ref _offsetMilliseconds));

    public override DateTimeOffset GetUtcNow() => Wall.GetUtcNow() + Offset;

    public override TimeZoneInfo LocalTimeZone => Wall.LocalTimeZone;

    public override long TimestampFrequency => Wall.TimestampFrequency;

    public override long GetTimestamp() => Wall.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        Wall.CreateTimer(callback, state, dueTime, period);

    /// <summary>Takes the stored offset when it is ahead of this node's (never back: the trial clock only moves forward).</summary>
    public void CatchUp(long offsetMilliseconds)
    {
        var known = Interlocked.Read(ref _offsetMilliseconds);
        while (offsetMilliseconds > known)
        {
            var seen = Interlocked.CompareExchange(ref _offsetMilliseconds, offsetMilliseconds, known);
            if (seen == known) return;
            known = seen;
        }
    }

    /// <summary>The clock that judges sign-in lifetimes: the real one under a trial clock, else <paramref name="clock"/>
    /// itself (the system clock in production, the test clock in tests).</summary>
    public static TimeProvider WallOf(TimeProvider clock) => clock is TrialClock trial ? trial.Wall : clock;
}
