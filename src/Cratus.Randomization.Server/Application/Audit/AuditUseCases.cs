using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Audit;

public sealed record AuditQuery(string Action, string User, string Target, TimeInput From, TimeInput To, string PageToken, int PageSize);

/// <summary>
/// A page of the audit trail, oldest first, filtered; the page token is the last sequence number given. A signed
/// action's event shows its signature's manifestation (21 CFR 11.50).
/// </summary>
[Permitted(TrialRole.Monitor, TrialRole.Statistician)]
public sealed class ListAuditEvents(AuditTrail trail, ElectronicSigning signing) : UseCase<AuditQuery, AuditPage>
{
    protected override async Task<AuditPage> ExecuteAsync(Caller caller, AuditQuery query, CancellationToken ct)
    {
        long after = 0;
        if (query.PageToken.Length > 0 && !long.TryParse(query.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out after))
            throw TrialRuleException.Invalid("page_token", "page_token is not one this service gave out.");
        if (query.PageSize is < 0 or > 500)
            throw TrialRuleException.Invalid("page_size", "page_size must be 1 to 500 (0 for the default of 50).");
        var page = await trail.ListAsync(new AuditFilter(query.Action, query.User, query.Target, query.From.Read("from_time"), query.To.Read("to_time"),
            after, query.PageSize == 0 ? 50 : query.PageSize), ct);
        return page with { Signatures = await signing.ForAuditEventsAsync([.. page.Events.Select(e => e.Sequence)], ct) };
    }
}

/// <summary>The head a monitor recorded earlier, to check that the trail still extends it; zero and empty when none was given.</summary>
public sealed record ExpectedHead(long Sequence, string Hash);

/// <summary>What the check of the whole chain found, and the signed head when it is intact.</summary>
public sealed record AuditTrailCheck(AuditVerification Result, SignedHead? Signature);

/// <summary>Walks the whole hash chain and its MACs (<see cref="AuditChain.Verify"/>); an intact head is signed for offline checking.</summary>
[Permitted(TrialRole.Monitor, TrialRole.Statistician)]
public sealed class VerifyAuditTrail(AuditTrail trail, HeadSigner signer, TrialDefinition trial) : UseCase<ExpectedHead?, AuditTrailCheck>
{
    protected override Task<AuditTrailCheck> ExecuteAsync(Caller caller, ExpectedHead? head, CancellationToken ct)
    {
        AuditHead? expected = null;
        if (head is not null)
        {
            if (head.Sequence < 1 || head.Hash.Length != 64)
                throw TrialRuleException.Invalid("expected_head", "expected_head needs the sequence number (1 or more) and the 64-character hash you recorded.");
            expected = new AuditHead(head.Sequence, head.Hash.ToLowerInvariant());
        }
        var result = trail.Verify(expected);
        // Only an intact head is signed: a signature says "the service verified the trail up to here".
        return Task.FromResult(new AuditTrailCheck(result, result.Intact && result.Head is { } signed ? signer.Sign(trial.TrialId, signed) : null));
    }
}

/// <summary>Checks the seal of every schedule entry and participant (<see cref="AllocationBinding"/>); names each that fails, never an arm.</summary>
[Permitted(TrialRole.Monitor, TrialRole.Statistician)]
public sealed class VerifyAllocations(AllocationVerifier verifier) : UseCase<Unit, AllocationVerification>
{
    protected override Task<AllocationVerification> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => verifier.VerifyAsync(ct);
}
