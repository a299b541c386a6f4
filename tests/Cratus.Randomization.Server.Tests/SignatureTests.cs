using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Electronic signatures (21 CFR Part 11) over real gRPC and a real database: re-authentication with the signer's own
/// password, single-use proofs bound to signer, action and record, their 5-minute lifetime, and the manifestation shown
/// with the signed record.
/// </summary>
public abstract class SignatureTests : OnEachDatabase
{
    private const string Reason = "SAE narrative needs the arm";

    private static string ReasonOf(RpcException e) => e.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>()!.Reason;

    private static async Task<RpcException> Refused<T>(AsyncUnaryCall<T> call) => await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

    /// <summary>A schedule, one randomized participant, and a pending request for it by stat-1.</summary>
    private async Task<(TrialServer Server, string ParticipantId, string UnblindingId)> PendingRequestAsync()
    {
        var server = NewServer();
        await server.Statistician("stat-1").GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var participant = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment.ParticipantId;
        var requested = await server.As(server.Token(TrialRole.Statistician, "stat-1")).Unblinding.RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.Participant, ParticipantId = participant, Reason = Reason });
        return (server, participant, requested.Request.UnblindingId);
    }

    private static Task<TrialClients> SignerAsync(TrialServer server, TrialRole role, string subject, params string[] sites)
    {
        // Minting the token makes the account, with the helpers' password.
        return Task.FromResult(server.As(server.Token(role, subject, sites)));
    }

    private static ApproveUnblindingRequest Approval(string unblindingId, ElectronicSignature signature) =>
        new() { UnblindingId = unblindingId, Reason = "justified", Signature = signature };

    private static async Task<string> ApprovalStatusAsync(TrialServer server, string unblindingId) =>
        (await server.As(TrialRole.Statistician).Unblinding.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest()))
            .Requests.Single(r => r.UnblindingId == unblindingId).Status.ToString();

    [ProviderFact]
    public async Task ApproveUnblinding_UserCreatedByAnAdministrator_SignsWithMeaningAndTheManifestationIsShownEverywhere()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var created = await server.As(TrialRole.Administrator).Administration.CreateUserAsync(new CreateUserRequest
            { UserName = "carol", FullName = "Carol Statistician", Role = "statistician", Reason = "second statistician" });
        var carol = server.As(server.Token(TrialRole.Statistician, "carol"));

        var signature = await carol.SignAsync(SignedAction.UnblindingApproval, unblindingId, SignatureMeaning.Approval, created.InitialPassword);
        var approved = await carol.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, signature));

        var shown = approved.Request.ApprovalSignature;
        Assert.Equal("Carol Statistician", shown.FullName);
        Assert.Equal("carol", shown.UserName);
        Assert.Equal("statistician", shown.Role);
        Assert.Equal(SignatureMeaning.Approval, shown.Meaning);
        Assert.Equal(server.Clock.GetUtcNow().ToUnixTimeSeconds(), shown.SignedAt.Seconds);
        Assert.Equal(unblindingId, shown.RecordId);
        Assert.Matches("^[0-9a-f]{64}$", shown.RecordSha256);
        Assert.StartsWith("Signed by Carol Statistician (carol, statistician) on 2026-11-22 15:00:00 UTC, meaning: approval", shown.Text, StringComparison.Ordinal);
        var listed = (await server.As(TrialRole.Statistician).Unblinding.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest())).Requests.Single();
        Assert.Equal(shown, listed.ApprovalSignature);
        var audited = Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unblinding.approved" })).Events);
        Assert.Equal(shown, audited.Signature);
        // The manifestation and digest are in the details, which the chain's hash covers.
        Assert.Contains(shown.Text, audited.Details, StringComparison.Ordinal);
        Assert.Contains("record sha256 " + shown.RecordSha256, audited.Details, StringComparison.Ordinal);
        Assert.True((await server.As(TrialRole.Monitor).Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Intact);
        var stored = await server.QueryAsync("""SELECT "Action", "RecordId", "SignerFullName", "Meaning", "AuditSequence" FROM "Signatures" WHERE "RecordId" = '""" + unblindingId + "'");
        var row = Assert.Single(stored);
        Assert.Equal(["UnblindingApproval", unblindingId, "Carol Statistician", "Approval"], row[..4].Select(v => v?.ToString()));
        Assert.Equal(audited.Sequence, Convert.ToInt64(row[4], System.Globalization.CultureInfo.InvariantCulture));
    }

    [ProviderFact]
    public async Task EmergencyUnblindAndGenerateSchedule_Signed_StoreAndShowTheirManifestations()
    {
        await using var server = NewServer();
        var statistician = await SignerAsync(server, TrialRole.Statistician, "stat-1");
        var trialId = (await statistician.Trial.GetTrialAsync(new GetTrialRequest())).TrialId;
        await statistician.Schedule.GenerateScheduleAsync(new GenerateScheduleRequest
            { Reason = "initial", Signature = await statistician.SignAsync(SignedAction.ScheduleGeneration, trialId, SignatureMeaning.Authorship) });
        var participant = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment.ParticipantId;
        var investigator = await SignerAsync(server, TrialRole.Investigator, "dr-jones", "UM");

        await investigator.Unblinding.EmergencyUnblindAsync(new EmergencyUnblindRequest
        {
            ParticipantId = participant, Reason = "anaphylaxis",
            Signature = await investigator.SignAsync(SignedAction.EmergencyUnblinding, participant, SignatureMeaning.Responsibility),
        });

        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest())).Events;
        var generated = events.Single(e => e.Action == "schedule.generated").Signature;
        var emergency = events.Single(e => e.Action == "unblinding.emergency").Signature;
        Assert.Equal((SignatureMeaning.Authorship, SignedAction.ScheduleGeneration, trialId, "Signer stat-1"),
            (generated.Meaning, generated.Action, generated.RecordId, generated.FullName));
        Assert.Equal((SignatureMeaning.Responsibility, SignedAction.EmergencyUnblinding, participant, "investigator"),
            (emergency.Meaning, emergency.Action, emergency.RecordId, emergency.Role));
        Assert.Null(events.Single(e => e.Action == "participant.randomized").Signature);
    }

    [ProviderFact]
    public async Task ImportSchedule_ProofForOtherContent_IsRefusedAndTheSignedContentIsImported()
    {
        await using var server = NewServer();
        var statistician = await SignerAsync(server, TrialRole.Statistician, "stat-1");
        var csv = ByteString.CopyFrom(ScheduleTests.ValidCsv(), Encoding.UTF8);
        var other = ByteString.CopyFrom(ScheduleTests.ValidCsv() + "\n", Encoding.UTF8);

        var signedForOther = await statistician.SignAsync(SignedAction.ScheduleImport, Signing.RecordIdOf(other), SignatureMeaning.Authorship);
        var wrongContent = await Refused(statistician.Schedule.ImportScheduleAsync(new ImportScheduleRequest { Csv = csv, Reason = "list", Signature = signedForOther }));
        var imported = await statistician.Schedule.ImportScheduleAsync(new ImportScheduleRequest
            { Csv = csv, Reason = "list", Signature = await statistician.SignAsync(SignedAction.ScheduleImport, Signing.RecordIdOf(csv), SignatureMeaning.Authorship) });

        Assert.Equal(StatusCode.PermissionDenied, wrongContent.StatusCode);
        Assert.Equal("SIGNING_PROOF_INVALID", ReasonOf(wrongContent));
        Assert.Matches("^[0-9a-f]{64}$", imported.Sha256Hex);
    }

    [ProviderFact]
    public async Task RecordDsmbDecision_SignedForTheCurrentCohort_IsRecordedWithItsSignature()
    {
        await using var server = NewServerWithPhaseOne();
        var dsmb = await SignerAsync(server, TrialRole.DsmbMember, "dsmb-chair");

        var wrongCohort = await Refused(dsmb.DoseEscalation.RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            { Decision = DsmbDecisionKind.Hold, Reason = "pause", Signature = await dsmb.SignAsync(SignedAction.DsmbDecision, "2") }));
        await dsmb.DoseEscalation.RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            { Decision = DsmbDecisionKind.Hold, Reason = "pause", Signature = await dsmb.SignAsync(SignedAction.DsmbDecision, "1", SignatureMeaning.Review) });

        Assert.Equal("SIGNING_PROOF_INVALID", ReasonOf(wrongCohort));
        var e = Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dsmb.decision" })).Events);
        Assert.Equal((SignedAction.DsmbDecision, "1", SignatureMeaning.Review), (e.Signature.Action, e.Signature.RecordId, e.Signature.Meaning));
        // Shown with the decision itself, to every role that reads the escalation board.
        var shown = Assert.Single((await server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status.Decisions);
        Assert.Equal((Signing.FullNameOf("dsmb-chair"), SignatureMeaning.Review), (shown.Signature.FullName, shown.Signature.Meaning));
        // A decision edited in the database no longer matches its signature's digest, so none is shown for it.
        await server.ExecuteSqlAsync("""UPDATE "DsmbDecisions" SET "Reason" = 'edited'""");
        Assert.Null(Assert.Single((await server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status.Decisions).Signature);
    }

    [ProviderFact]
    public async Task ApproveUnblinding_StaleProof_IsRefusedAsExpiredAndNothingChanges()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var stat2 = await SignerAsync(server, TrialRole.Statistician, "stat-2");
        var signature = await stat2.SignAsync(SignedAction.UnblindingApproval, unblindingId);

        server.Clock.Advance(TimeSpan.FromMinutes(6));
        var error = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, signature)));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal("SIGNING_PROOF_EXPIRED", ReasonOf(error));
        Assert.Contains("Re-authenticate", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
        Assert.Empty(await server.QueryAsync("""SELECT "Id" FROM "Signatures" WHERE "Action" = 'UnblindingApproval'"""));
    }

    [ProviderFact]
    public async Task Reauthenticate_AnotherUsersPasswordOrProof_CannotSignForTheCaller()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var mallory = await SignerAsync(server, TrialRole.Statistician, "mallory");
        var created = await server.As(TrialRole.Administrator).Administration.CreateUserAsync(new CreateUserRequest
            { UserName = "bob", FullName = "Bob Statistician", Role = "statistician", Reason = "second statistician" });
        var bob = server.As(server.Token(TrialRole.Statistician, "bob"));

        // Bob's password, sent by mallory, is checked against mallory's own account.
        var withBobsPassword = await Assert.ThrowsAsync<RpcException>(() =>
            mallory.SignAsync(SignedAction.UnblindingApproval, unblindingId, password: created.InitialPassword));
        // A proof bob obtained with his password, presented by mallory.
        var bobsProof = await bob.SignAsync(SignedAction.UnblindingApproval, unblindingId, password: created.InitialPassword);
        var withBobsProof = await Refused(mallory.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, bobsProof)));

        Assert.Equal(StatusCode.Unauthenticated, withBobsPassword.StatusCode);
        Assert.Equal("CREDENTIALS_INVALID", ReasonOf(withBobsPassword));
        Assert.Equal(StatusCode.PermissionDenied, withBobsProof.StatusCode);
        Assert.Equal("SIGNING_PROOF_INVALID", ReasonOf(withBobsProof));
        Assert.Contains("another person", withBobsProof.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
        var failures = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "signature.reauthentication_failed" })).Events;
        Assert.Equal("mallory", Assert.Single(failures).User);
    }

    [ProviderFact]
    public async Task ApproveUnblinding_ProofForAnotherRecordOrAction_IsRefused()
    {
        var (server, participant, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var other = (await server.As(server.Token(TrialRole.Statistician, "stat-1")).Unblinding.RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = Reason })).Request.UnblindingId;
        var stat2 = await SignerAsync(server, TrialRole.Statistician, "stat-2");

        var forOtherRecord = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, await stat2.SignAsync(SignedAction.UnblindingApproval, other))));
        var forOtherAction = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, await stat2.SignAsync(SignedAction.EmergencyUnblinding, participant))));

        Assert.All([forOtherRecord, forOtherAction], e => Assert.Equal("SIGNING_PROOF_INVALID", ReasonOf(e)));
        Assert.Contains($"of {other}, not unblinding approval of {unblindingId}", forOtherRecord.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
    }

    [ProviderFact]
    public async Task ApproveUnblinding_ReplayedProof_IsRefusedAsUsed_AndOfTwoConcurrentUsesExactlyOneSucceeds()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var second = (await server.As(server.Token(TrialRole.Statistician, "stat-1")).Unblinding.RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = Reason })).Request.UnblindingId;
        var stat2 = await SignerAsync(server, TrialRole.Statistician, "stat-2");
        var signature = await stat2.SignAsync(SignedAction.UnblindingApproval, second);

        // Two different writes (each its own request id) racing with one proof.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            try
            {
                await stat2.Unblinding.ApproveUnblindingAsync(Approval(second, signature.Clone()));
                return "ok";
            }
            catch (RpcException e)
            {
                return ReasonOf(e);
            }
        }));
        var replay = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(second, signature.Clone())));

        Assert.Equal(["SIGNING_PROOF_USED", "ok"], outcomes.Order(StringComparer.Ordinal));
        Assert.Equal("SIGNING_PROOF_USED", ReasonOf(replay));
        Assert.Equal(StatusCode.FailedPrecondition, replay.StatusCode);
        Assert.Single(await server.QueryAsync("""SELECT "Id" FROM "Signatures" WHERE "Action" = 'UnblindingApproval'"""));
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
    }

    [ProviderFact]
    public async Task ApproveUnblinding_RequesterSignsOwnRequest_IsRefusedAndTheProofIsNotSpent()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var stat1 = await SignerAsync(server, TrialRole.Statistician, "stat-1");
        var signature = await stat1.SignAsync(SignedAction.UnblindingApproval, unblindingId);

        var error = await Refused(stat1.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, signature)));

        Assert.Equal("SECOND_STATISTICIAN_REQUIRED", ReasonOf(error));
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
        Assert.Empty(await server.QueryAsync("""SELECT "Id" FROM "Signatures" WHERE "Action" = 'UnblindingApproval'"""));
        Assert.Single(await server.QueryAsync("""SELECT "Id" FROM "SigningProofs" WHERE "RedeemedAt" IS NULL AND "Signer" = 'stat-1'"""));
    }

    [ProviderFact]
    public async Task SignedAction_WithoutProofOrMeaning_IsSignatureRequiredNamingEachField()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var stat2 = await SignerAsync(server, TrialRole.Statistician, "stat-2");
        var proof = await stat2.SignAsync(SignedAction.UnblindingApproval, unblindingId);

        var none = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, new ElectronicSignature())));
        var noMeaning = await Refused(stat2.Unblinding.ApproveUnblindingAsync(Approval(unblindingId, new ElectronicSignature { SigningProof = proof.SigningProof })));

        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.Equal("SIGNATURE_REQUIRED", ReasonOf(none));
        Assert.Equal(["signature.meaning", "signature.signing_proof"],
            none.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).Order());
        Assert.Equal(["signature.meaning"], noMeaning.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field));
        Assert.Equal("Pending", await ApprovalStatusAsync(server, unblindingId));
    }

    [ProviderFact]
    public async Task Reauthenticate_WrongPasswordRepeatedly_LocksTheAccountLikeFailedSignIns()
    {
        var (server, _, unblindingId) = await PendingRequestAsync();
        await using var _ = server;
        var stat2 = await SignerAsync(server, TrialRole.Statistician, "stat-2");

        for (var i = 0; i < 5; i++)
            await Assert.ThrowsAsync<RpcException>(() => stat2.SignAsync(SignedAction.UnblindingApproval, unblindingId, password: "not-my-password"));
        var locked = await Assert.ThrowsAsync<RpcException>(() => stat2.SignAsync(SignedAction.UnblindingApproval, unblindingId));

        Assert.Equal("ACCOUNT_LOCKED", ReasonOf(locked));
        var audit = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { User = "stat-2" })).Events;
        Assert.Equal(5, audit.Count(e => e.Action == "signature.reauthentication_failed"));
        Assert.Single(audit, e => e.Action == "identity.locked_out");
    }
}

public sealed class SignatureTestsOnSqlite : SignatureTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class SignatureTestsOnPostgreSql : SignatureTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class SignatureTestsOnSqlServer : SignatureTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
