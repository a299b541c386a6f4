using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.Rehearsal;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The rehearsal door: the trial mode and clock, and moving the clock forward (UAT and training).</summary>
public sealed class RehearsalGrpcService(GetTrialClock getTrialClock, AdvanceTrialClock advanceTrialClock) : RehearsalService.RehearsalServiceBase
{
    [Runs(typeof(GetTrialClock))]
    public override async Task<GetTrialClockResponse> GetTrialClock(GetTrialClockRequest request, ServerCallContext context) =>
        new() { Clock = ToProto(await getTrialClock.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken)) };

    [Runs(typeof(AdvanceTrialClock))]
    public override async Task<AdvanceTrialClockResponse> AdvanceTrialClock(AdvanceTrialClockRequest request, ServerCallContext context)
    {
        var move = await advanceTrialClock.RunAsync(AccessInterceptor.CallerOf(context),
            new AdvanceTrialClockCommand(ToTimeSpan(request.AdvanceBy), request.Reason), context.CancellationToken);
        return new AdvanceTrialClockResponse { Before = ToProto(move.Before), After = ToProto(move.After) };
    }

    /// <summary>A request's duration as the use case judges it; one beyond what a TimeSpan holds keeps its sign (and
    /// is refused there, as too far or backwards).</summary>
    private static TimeSpan? ToTimeSpan(Duration? duration) => duration switch
    {
        null => null,
        { Seconds: > 100_000_000_000 } => TimeSpan.MaxValue,
        { Seconds: < -100_000_000_000 } => TimeSpan.MinValue,
        var d => TimeSpan.FromSeconds(d.Seconds) + TimeSpan.FromTicks(d.Nanos / 100),
    };

    private static Protos.V1.TrialClock ToProto(TrialClockView view) => new()
    {
        Mode = view.Mode switch
        {
            Domain.TrialMode.Uat => Protos.V1.TrialMode.Uat,
            Domain.TrialMode.Training => Protos.V1.TrialMode.Training,
            _ => Protos.V1.TrialMode.Production,
        },
        TrialTime = Timestamp.FromDateTimeOffset(view.TrialNow),
        Offset = Duration.FromTimeSpan(view.Offset),
        ClockControl = view.ClockControl,
    };
}
