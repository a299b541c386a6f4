using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The door for site systems: message in, use case, message out. Refusals become rich statuses in <see cref="ErrorInterceptor"/>.</summary>
public sealed class RandomizationGrpcService(RandomizeParticipant randomize, GetAssignment getAssignment) : RandomizationService.RandomizationServiceBase
{
    [Runs(typeof(RandomizeParticipant))]
    public override async Task<RandomizeResponse> Randomize(RandomizeRequest request, ServerCallContext context)
    {
        var intake = ProtoMapping.ToIntake(request.RequestId, request.SiteCode, request.ScreeningId, request.Eligibility);
        var assignment = await randomize.RunAsync(AccessInterceptor.CallerOf(context), intake, context.CancellationToken);
        return new RandomizeResponse { Assignment = assignment.ToProto() };
    }

    [Runs(typeof(GetAssignment))]
    public override async Task<GetAssignmentResponse> GetAssignment(GetAssignmentRequest request, ServerCallContext context) =>
        new() { Assignment = (await getAssignment.RunAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, context.CancellationToken)).ToProto() };
}
