using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Infusion;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>At the bedside: the site's check of the bag against the participant (blinded).</summary>
public sealed class InfusionGrpcService(VerifyAtBedside verifyAtBedside) : InfusionService.InfusionServiceBase
{
    [Runs(typeof(VerifyAtBedside))]
    public override async Task<VerifyAtBedsideResponse> VerifyAtBedside(VerifyAtBedsideRequest request, ServerCallContext context)
    {
        var answer = await verifyAtBedside.RunAsync(AccessInterceptor.CallerOf(context), new BedsideCommand(request.ProductId, request.ParticipantId),
            context.CancellationToken);
        return new VerifyAtBedsideResponse
        {
            Confirmed = answer.Confirmed,
            RefusalReason = answer.Refusal is { } reason ? RichStatus.ToProto(reason) : ErrorReason.Unspecified,
            Message = answer.Message,
            ProductId = answer.ProductId,
            ParticipantId = answer.ParticipantId,
            UseBy = answer.UseBy.ToProto(),
            Deviation = answer.Deviation,
            VerifiedAt = Timestamp.FromDateTimeOffset(answer.VerifiedAt),
        };
    }
}
