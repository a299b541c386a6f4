using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Unblinding;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scope = Cratus.Randomization.Server.Persistence.UnblindingScope;

namespace Cratus.Randomization.Server.Grpc;

public sealed class UnblindingGrpcService(Unblinder unblinder) : UnblindingService.UnblindingServiceBase
{
    public override async Task<EmergencyUnblindResponse> EmergencyUnblind(EmergencyUnblindRequest request, ServerCallContext context)
    {
        var revealed = await unblinder.EmergencyUnblindAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, request.Reason, context.CancellationToken);
        return new EmergencyUnblindResponse { Assignment = revealed.Assignment.ToProto(), Treatment = revealed.Arm.ToProto() };
    }

    public override async Task<RequestUnblindingResponse> RequestUnblinding(RequestUnblindingRequest request, ServerCallContext context)
    {
        var scope = request.Scope switch
        {
            UnblindingScope.Participant => Scope.Participant,
            UnblindingScope.DsmbAggregate => Scope.DsmbAggregate,
            UnblindingScope.Final => Scope.Final,
            _ => throw TrialRuleException.Invalid("scope", "scope is required: participant, DSMB aggregate or final."),
        };
        var created = await unblinder.RequestAsync(AccessInterceptor.CallerOf(context), scope, request.ParticipantId, request.Reason, context.CancellationToken);
        return new RequestUnblindingResponse { Request = ToProto(created) };
    }

    public override async Task<ApproveUnblindingResponse> ApproveUnblinding(ApproveUnblindingRequest request, ServerCallContext context)
    {
        var approved = await unblinder.ApproveAsync(AccessInterceptor.CallerOf(context), request.UnblindingId, request.Reason, context.CancellationToken);
        return new ApproveUnblindingResponse { Request = ToProto(approved) };
    }

    public override async Task<ListUnblindingRequestsResponse> ListUnblindingRequests(ListUnblindingRequestsRequest request, ServerCallContext context)
    {
        var requests = await unblinder.ListAsync(AccessInterceptor.CallerOf(context), context.CancellationToken);
        return new ListUnblindingRequestsResponse { Requests = { requests.Select(ToProto) } };
    }

    public override async Task<GetUnblindedAllocationsResponse> GetUnblindedAllocations(GetUnblindedAllocationsRequest request, ServerCallContext context)
    {
        var revealed = await unblinder.GetAllocationsAsync(AccessInterceptor.CallerOf(context), request.UnblindingId, context.CancellationToken);
        return new GetUnblindedAllocationsResponse
        {
            Request = ToProto(revealed.Request),
            Allocations = { revealed.Allocations.Select(a => new UnblindedAllocation { Assignment = a.Assignment.ToProto(), Treatment = a.Arm.ToProto() }) },
            ArmCounts = { revealed.ArmCounts.Select(c => new Protos.V1.ArmCount { Treatment = c.Arm.ToProto(), Participants = c.Participants }) },
        };
    }

    private static UnblindingRequest ToProto(UnblindingRequestView r) => new()
    {
        UnblindingId = r.RequestId,
        Scope = r.Scope switch
        {
            Scope.Participant => UnblindingScope.Participant,
            Scope.DsmbAggregate => UnblindingScope.DsmbAggregate,
            _ => UnblindingScope.Final,
        },
        ParticipantId = r.ParticipantId ?? "",
        Reason = r.Reason,
        RequestedBy = r.RequestedBy,
        RequestedAt = Timestamp.FromDateTimeOffset(r.RequestedAt),
        ApprovedBy = r.ApprovedBy ?? "",
        ApprovedAt = r.ApprovedAt.ToProto(),
        ExpiresAt = r.ExpiresAt.ToProto(),
        Status = r.Status switch
        {
            UnblindingStatus.Pending => UnblindingRequestStatus.Pending,
            UnblindingStatus.Approved => UnblindingRequestStatus.Approved,
            _ => UnblindingRequestStatus.Expired,
        },
    };
}
