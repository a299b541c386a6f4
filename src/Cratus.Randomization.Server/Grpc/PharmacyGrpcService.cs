using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Pharmacy;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed partial class PharmacyGrpcService(ReadDoseOrder readDoseOrder) : PharmacyService.PharmacyServiceBase
{
    [Runs(typeof(ReadDoseOrder))]
    public override async Task<GetDoseOrderResponse> GetDoseOrder(GetDoseOrderRequest request, ServerCallContext context)
    {
        var order = await readDoseOrder.RunAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, context.CancellationToken);
        return new GetDoseOrderResponse
        {
            ParticipantId = order.Assignment.ParticipantId,
            SiteCode = order.Assignment.SiteCode,
            RandomizationNumber = order.Assignment.RandomizationNumber,
            ProductCode = order.Assignment.ProductCode,
            ArmCode = order.ArmCode,
            Cohort = order.Cohort,
            Treatment = order.Treatment,
            CellCount = order.CellCount,
            Placebo = order.Placebo,
            RandomizedAt = Timestamp.FromDateTimeOffset(order.Assignment.RandomizedAt),
        };
    }
}
