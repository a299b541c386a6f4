using System.Globalization;
using Cratus.Randomization.Server.Application.Audit;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using AuditHead = Cratus.Randomization.Protos.V1.AuditHead;

namespace Cratus.Randomization.Server.Grpc;

public sealed class AuditGrpcService(ListAuditEvents listEvents, VerifyAuditTrail verifyTrail, VerifyAllocations verifyAllocations) : AuditService.AuditServiceBase
{
    [Runs(typeof(ListAuditEvents))]
    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        var page = await listEvents.RunAsync(AccessInterceptor.CallerOf(context), new AuditQuery(request.Action, request.User, request.Target,
            request.FromTime.ToInput(), request.ToTime.ToInput(), request.PageToken, request.PageSize), context.CancellationToken);
        return new ListAuditEventsResponse
        {
            Events = { page.Events.Select(e => new AuditEvent
            {
                Sequence = e.Sequence,
                OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(e.OccurredAtUnixMilliseconds)),
                User = e.User,
                Role = e.Role,
                Site = e.Site,
                Action = e.Action,
                Target = e.Target,
                Reason = e.Reason,
                Details = e.Details,
                PreviousHash = e.PreviousHash,
                Hash = e.Hash,
                KeyId = e.KeyId,
                Mac = e.Mac,
                Signature = page.Signatures?.GetValueOrDefault(e.Sequence)?.ToProto(),
            }) },
            NextPageToken = page.NextAfterSequence?.ToString(CultureInfo.InvariantCulture) ?? "",
        };
    }

    [Runs(typeof(VerifyAuditTrail))]
    public override async Task<VerifyAuditTrailResponse> VerifyAuditTrail(VerifyAuditTrailRequest request, ServerCallContext context)
    {
        var expected = request.ExpectedHead is { } head ? new ExpectedHead(head.Sequence, head.Hash) : null;
        var (result, signature) = await verifyTrail.RunAsync(AccessInterceptor.CallerOf(context), expected, context.CancellationToken);
        return new VerifyAuditTrailResponse
        {
            Intact = result.Intact,
            EventsChecked = result.EventsChecked,
            Head = result.Head is { } h ? new AuditHead { Sequence = h.Sequence, Hash = h.Hash } : null,
            FirstBrokenSequence = result.FirstBrokenSequence ?? 0,
            Problem = result.Problem,
            ExtendsExpectedHead = result.ExtendsExpectedHead ?? false,
            HeadSignature = signature is null ? null : ToProto(signature),
        };
    }

    [Runs(typeof(VerifyAllocations))]
    public override async Task<VerifyAllocationsResponse> VerifyAllocations(VerifyAllocationsRequest request, ServerCallContext context)
    {
        var result = await verifyAllocations.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        return new VerifyAllocationsResponse
        {
            Intact = result.Failures == 0,
            ParticipantsChecked = result.ParticipantsChecked,
            ScheduleEntriesChecked = result.ScheduleEntriesChecked,
            CohortEnrolmentsChecked = result.CohortEnrolmentsChecked,
            Failures = result.Failures,
            Problems = { result.Problems.Select(p => new Protos.V1.AllocationProblem { ParticipantId = p.ParticipantId, Stratum = p.Stratum, Sequence = p.Sequence, Problem = p.Problem }) },
        };
    }

    private static AuditHeadSignature ToProto(SignedHead head) => new()
    {
        Statement = head.Statement,
        Signature = Google.Protobuf.ByteString.CopyFrom(head.Signature),
        KeyId = head.KeyId,
        PublicKeyPem = head.PublicKeyPem,
    };
}
