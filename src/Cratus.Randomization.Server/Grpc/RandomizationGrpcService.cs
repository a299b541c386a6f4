using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Randomization;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class RandomizationGrpcService(Randomizer randomizer) : RandomizationService.RandomizationServiceBase
{
    public override async Task<RandomizeResponse> Randomize(RandomizeRequest request, ServerCallContext context)
    {
        var command = new IntakeRequest(request.RequestId, request.SiteCode, request.ScreeningId, request.Eligibility.ToDomain());
        var assignment = await randomizer.RandomizeAsync(AccessInterceptor.CallerOf(context), command, context.CancellationToken);
        return new RandomizeResponse { Assignment = assignment.ToProto() };
    }

    public override async Task<GetAssignmentResponse> GetAssignment(GetAssignmentRequest request, ServerCallContext context)
    {
        var assignment = await randomizer.GetAssignmentAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, context.CancellationToken);
        return new GetAssignmentResponse { Assignment = assignment.ToProto() };
    }
}
