
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.Unblinding;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scope = Cratus.Randomization.Domain.UnblindingScope;
using Status = Cratus.Randomization.Domain.UnblindingStatus;

namespace Cratus.Randomization.Server.Grpc;

public sealed class UnblindingGrpcService(
    EmergencyUnblind emergencyUnblind, RequestUnblinding requestUnblinding, ApproveUnblinding approveUnblinding,
    ListUnblindingRequests listRequests, ReadUnblindedAllocations readAllocations) : UnblindingService.UnblindingServiceBase
{
    [Runs(typeof(EmergencyUnblind))]
    public override async Task<EmergencyUnblindResponse> EmergencyUnblind(EmergencyUnblindRequest request, ServerCallContext context)
    {
        var revealed = await emergencyUnblind.RunAsync(AccessInterceptor.CallerOf(context),
            new EmergencyUnblindCommand(request.ParticipantId, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new EmergencyUnblindResponse { Assignment = revealed.Assignment.ToProto(), Treatment = revealed.Arm.ToProto() };
    }

    [Runs(typeof(RequestUnblinding))]
    public override async Task<RequestUnblindingResponse> RequestUnblinding(RequestUnblindingRequest request, ServerCallContext context)
    {
        Scope? scope = request.Scope switch
        {
            UnblindingScope.Participant => Scope.Participant,
            UnblindingScope.DsmbAggregate => Scope.DsmbAggregate,
            UnblindingScope.Final => Scope.Final,
            _ => null,
        };
        var created = await requestUnblinding.RunAsync(AccessInterceptor.CallerOf(context),
            new UnblindingRequestCommand(scope, request.ParticipantId, request.Reason), context.CancellationToken);
        return new RequestUnblindingResponse { Request = ToProto(created) };
    }

    [Runs(typeof(ApproveUnblinding))]
    public override async Task<ApproveUnblindingResponse> ApproveUnblinding(ApproveUnblindingRequest request, ServerCallContext context)
    {
        var approved = await approveUnblinding.RunAsync(AccessInterceptor.CallerOf(context),
            new UnblindingApprovalCommand(request.UnblindingId, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new ApproveUnblindingResponse { Request = ToProto(approved) };
    }

    [Runs(typeof(ListUnblindingRequests))]
    public override async Task<ListUnblindingRequestsResponse> ListUnblindingRequests(ListUnblindingRequestsRequest request, ServerCallContext context)
    {
        var requests = await listRequests.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        return new ListUnblindingRequestsResponse { Requests = { requests.Select(ToProto) } };
    }

    [Runs(typeof(ReadUnblindedAllocations))]
    public override async Task<GetUnblindedAllocationsResponse> GetUnblindedAllocations(GetUnblindedAllocationsRequest request, ServerCallContext context)
    {
        var revealed = await readAllocations.RunAsync(AccessInterceptor.CallerOf(context), request.UnblindingId, context.CancellationToken);
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
            Status.Pending => UnblindingRequestStatus.Pending,
            Status.Approved => UnblindingRequestStatus.Approved,
            _ => UnblindingRequestStatus.Expired,
        },
        ApprovalSignature = r.ApprovalSignature?.ToProto(),
    };
}
