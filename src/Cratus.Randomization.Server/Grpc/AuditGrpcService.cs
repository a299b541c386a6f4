using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using AuditHead = Cratus.Randomization.Protos.V1.AuditHead;

namespace Cratus.Randomization.Server.Grpc;

public sealed class AuditGrpcService(AuditTrail trail, AllocationVerifier allocations, HeadSigner signer, TrialDefinition trial) : AuditService.AuditServiceBase
{
    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        long after = 0;
        if (request.PageToken.Length > 0 && !long.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out after))
            throw TrialRuleException.Invalid("page_token", "page_token is not one this service gave out.");
        if (request.PageSize is < 0 or > 500)
            throw TrialRuleException.Invalid("page_size", "page_size must be 1 to 500 (0 for the default of 50).");
        var page = await trail.ListAsync(new AuditFilter(request.Action, request.User, request.Target,
            ProtoMapping.ToTime(request.FromTime, "from_time"), ProtoMapping.ToTime(request.ToTime, "to_time"), after, request.PageSize == 0 ? 50 : request.PageSize), context.CancellationToken);
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
            }) },
            NextPageToken = page.NextAfterSequence?.ToString(CultureInfo.InvariantCulture) ?? "",
        };
    }

    public override Task<VerifyAuditTrailResponse> VerifyAuditTrail(VerifyAuditTrailRequest request, ServerCallContext context)
    {
        Domain.AuditHead? expected = null;
        if (request.ExpectedHead is { } head)
        {
            if (head.Sequence < 1 || head.Hash.Length != 64)
                throw TrialRuleException.Invalid("expected_head", "expected_head needs the sequence number (1 or more) and the 64-character hash you recorded.");
            expected = new Domain.AuditHead(head.Sequence, head.Hash.ToLowerInvariant());
        }
        var result = trail.Verify(expected);
        return Task.FromResult(new VerifyAuditTrailResponse
        {
            Intact = result.Intact,
            EventsChecked = result.EventsChecked,
            Head = result.Head is { } h ? new AuditHead { Sequence = h.Sequence, Hash = h.Hash } : null,
            FirstBrokenSequence = result.FirstBrokenSequence ?? 0,
            Problem = result.Problem,
            ExtendsExpectedHead = result.ExtendsExpectedHead ?? false,
            // Only an intact head is signed: a signature says "the service verified the trail up to here".
            HeadSignature = result.Intact && result.Head is { } signed ? ToProto(signer.Sign(trial.TrialId, signed)) : null,
        });
    }

    public override async Task<VerifyAllocationsResponse> VerifyAllocations(VerifyAllocationsRequest request, ServerCallContext context)
    {
        var result = await allocations.VerifyAsync(context.CancellationToken);
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
