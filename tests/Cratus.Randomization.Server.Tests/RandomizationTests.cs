using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Tests;

public abstract class RandomizationTests : OnEachDatabase
{
    private static async Task GenerateAsync(TrialServer server, params int[] blockSizes) =>
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { BlockSizes = { blockSizes }, Reason = "test schedule" });

    [ProviderFact]
    public async Task Randomize_IneligibleParticipant_NamesEveryFailedCriterionAndStoresNothing()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var request = Requests.Randomize("SCR-001");
        request.Eligibility.DateOfBirth = new CalendarDate { Year = 1970, Month = 1, Day = 1 }; // 56 at consent
        request.Eligibility.ClinicalFrailtyScale = 3;
        request.Eligibility.MmseScore = 24;
        request.Eligibility.ExclusionAttestations[3].Applies = true;
        request.Eligibility.ConsentDate = new CalendarDate { Year = 2026, Month = 12, Day = 1 };

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("in the future", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("age at consent 56 is below the minimum of 60", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Clinical Frailty Scale score 3", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("MMSE score 24", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("recent-malignancy", error.Status.Detail, StringComparison.Ordinal);
        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());
        Assert.Equal(0, trial.RandomizedParticipants);
    }

    [ProviderFact]
    public async Task Randomize_IncompleteData_IsInvalidArgumentNamingEachMissingField()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var request = Requests.Randomize("SCR-002");
        request.Eligibility.Sex = Sex.Unspecified;
        request.Eligibility.ClearMmseScore();
        request.Eligibility.ExclusionAttestations.RemoveAt(0);

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("sex is required", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("mmse_score is required", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("'cannot-perform-assessments' must be answered", error.Status.Detail, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Randomize_BeforeAnySchedule_IsFailedPrecondition()
    {
        await using var server = NewServer();

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-003")).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("No randomization schedule", error.Status.Detail, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Randomize_ThirtyInOneStratumWithBlocksOfThree_GivesTenPerArm()
    {
        await using var server = NewServer();
        await GenerateAsync(server, 3);
        var site = server.Site();
        var pharmacy = server.Pharmacy();

        var arms = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var reply = await site.RandomizeAsync(Requests.Randomize($"SCR-{i:D3}", Sex.Female));
            arms.Add((await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId })).ArmCode);
        }

        Assert.Equal(10, arms.Count(a => a == "A"));
        Assert.Equal(10, arms.Count(a => a == "B"));
        Assert.Equal(10, arms.Count(a => a == "C"));
        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());
        Assert.Equal(30, trial.RandomizedParticipants);
        var refused = await Assert.ThrowsAsync<RpcException>(() => site.RandomizeAsync(Requests.Randomize("SCR-031")).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("target of 30", refused.Status.Detail, StringComparison.Ordinal);
        // Thirty randomizations and thirty dose orders later, the log holds no treatment.
        var log = string.Concat(Directory.GetFiles(server.LogFolder).Select(f =>
        {
            using var reader = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd();
        }));
        Assert.Contains("Randomized participant", log, StringComparison.Ordinal);
        foreach (var word in new[] { "placebo", "million", "allo-hMSC", "ArmCode", "CellCount" })
            Assert.DoesNotContain(word, log, StringComparison.OrdinalIgnoreCase);
    }

    [ProviderFact]
    public async Task GetAssignment_EmptyParticipantId_IsInvalidArgument()
    {
        await using var server = NewServer();

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Site().GetAssignmentAsync(new GetAssignmentRequest()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task Randomize_EveryStratum_ArmsEqualAtBlockBoundariesAndNeverAheadByMoreThanLargestBlockOverThree()
    {
        await using var server = NewServer(
            ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
             "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"),
            ("\"targetParticipants\": 30", "\"targetParticipants\": 120"));
        var generated = await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "test" });
        var definition = Domain.TrialDefinition.Parse(File.ReadAllText(Path.Combine(server.Folder, "trial.json")));
        var schedule = Domain.ScheduleGenerator.Generate(definition, Convert.FromHexString(generated.SeedHex), [3, 6]);
        var pharmacy = server.Pharmacy();

        var armsByStratum = new Dictionary<string, List<string>>();
        var n = 0;
        foreach (var (site, sex) in new[] { ("UM", Sex.Female), ("UM", Sex.Male), ("JH", Sex.Female), ("JH", Sex.Male) })
        {
            var client = server.Site(site);
            var arms = armsByStratum[$"{site}/{(sex == Sex.Female ? "F" : "M")}"] = [];
            for (var i = 0; i < 30; i++)
            {
                var reply = await client.RandomizeAsync(Requests.Randomize($"S{n++:D4}", sex, site));
                arms.Add((await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId })).ArmCode);
            }
        }

        foreach (var (stratum, arms) in armsByStratum)
        {
            var boundaries = schedule.BlocksByStratum[stratum].Aggregate(new List<int> { 0 }, (acc, size) => { acc.Add(acc[^1] + size); return acc; });
            for (var k = 1; k <= arms.Count; k++)
            {
                var counts = new[] { "A", "B", "C" }.Select(a => arms.Take(k).Count(x => x == a)).ToArray();
                Assert.True(counts.Max() - counts.Min() <= 6 / 3, $"{stratum}: after {k} an arm leads by {counts.Max() - counts.Min()}");
                if (boundaries.Contains(k)) Assert.True(counts.Max() == counts.Min(), $"{stratum}: unequal at block boundary {k}");
            }
        }
    }

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task Randomize_SixtyFourConcurrentCalls_UseSixtyFourDistinctEntriesInSequence()
    {
        await using var server = NewServer(("\"targetParticipants\": 30", "\"targetParticipants\": 64"));
        await GenerateAsync(server);
        var site = server.Site();

        var replies = await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
            site.RandomizeAsync(Requests.Randomize($"C{i:D3}", i % 2 == 0 ? Sex.Female : Sex.Male)).ResponseAsync));

        Assert.Equal(64, replies.Select(r => r.Assignment.RandomizationNumber).Distinct().Count());
        Assert.Equal(64, replies.Select(r => r.Assignment.ParticipantId).Distinct().Count());
        Assert.Equal(64, replies.Select(r => r.Assignment.ProductCode).Distinct().Count());
        // Each stratum's entries were taken in sequence order without gaps: R01-001..R01-032 and R02-001..R02-032.
        foreach (var prefix in new[] { "R01-", "R02-" })
        {
            var sequences = replies.Select(r => r.Assignment.RandomizationNumber).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
                .Select(n => int.Parse(n[4..], System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
            Assert.Equal(Enumerable.Range(1, 32), sequences);
        }
    }

    [ProviderFact]
    public async Task Randomize_RetriedRequestId_ReturnsIdenticalAnswer()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var site = server.Site();
        var request = Requests.Randomize("SCR-010");

        var first = await site.RandomizeAsync(request);
        server.Clock.Advance(TimeSpan.FromMinutes(3));
        var retries = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => site.RandomizeAsync(request).ResponseAsync));

        Assert.All(retries, r => Assert.Equal(first, r));
        var trial = await server.Trial().GetTrialAsync(new GetTrialRequest());
        Assert.Equal(1, trial.RandomizedParticipants);
    }

    [ProviderFact]
    public async Task Randomize_SameParticipantNewRequestId_IsAlreadyExists()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var site = server.Site();
        var first = await site.RandomizeAsync(Requests.Randomize("SCR-011"));

        var error = await Assert.ThrowsAsync<RpcException>(() => site.RandomizeAsync(Requests.Randomize("SCR-011")).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.Contains(first.Assignment.ParticipantId, error.Status.Detail, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Randomize_RequestIdReusedForAnotherParticipant_IsAlreadyExistsAndStoresNothing()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var site = server.Site();
        var requestId = Guid.NewGuid().ToString();
        await site.RandomizeAsync(Requests.Randomize("SCR-012", requestId: requestId));

        var error = await Assert.ThrowsAsync<RpcException>(() => site.RandomizeAsync(Requests.Randomize("SCR-013", requestId: requestId)).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.Equal("REQUEST_ID_REUSED", error.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(1, (await server.Trial().GetTrialAsync(new GetTrialRequest())).RandomizedParticipants);
    }

    [ProviderFact]
    public async Task Randomize_SiteTheCallerDoesNotServe_IsPermissionDenied()
    {
        await using var server = NewServer();
        await GenerateAsync(server);
        var otherSite = new RandomizationService.RandomizationServiceClient(server.Channel(TrialRole.SiteCoordinator, "XX"));

        var error = await Assert.ThrowsAsync<RpcException>(() => otherSite.RandomizeAsync(Requests.Randomize("SCR-014")).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [ProviderFact]
    public async Task BlindedReplies_ArmAAndArmCParticipants_HaveSameFieldsAndSize()
    {
        await using var server = NewServer();
        await GenerateAsync(server, 3);
        var site = server.Site();
        var pharmacy = server.Pharmacy();
        var byArm = new Dictionary<string, (RandomizeResponse Randomized, GetAssignmentResponse Read)>();
        for (var i = 0; i < 6 && byArm.Count < 3; i++)
        {
            var reply = await site.RandomizeAsync(Requests.Randomize($"SCR-{i:D3}"));
            var read = await site.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = reply.Assignment.ParticipantId });
            var arm = (await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId })).ArmCode;
            byArm.TryAdd(arm, (reply, read));
        }

        var a = byArm["A"];
        var c = byArm["C"];
        Assert.Equal(a.Randomized.CalculateSize(), c.Randomized.CalculateSize());
        Assert.Equal(a.Read.CalculateSize(), c.Read.CalculateSize());
        Assert.Equal(PresentFields(a.Randomized.Assignment), PresentFields(c.Randomized.Assignment));
        foreach (var reply in new IMessage[] { a.Randomized, c.Randomized, a.Read, c.Read })
        {
            var text = reply.ToString()!;
            Assert.DoesNotContain("placebo", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(reply.Descriptor.Fields.InDeclarationOrder().Concat(BlindedAssignment.Descriptor.Fields.InDeclarationOrder()),
                f => f.Name.Contains("arm", StringComparison.Ordinal) || f.Name.Contains("cell", StringComparison.Ordinal) || f.Name.Contains("dose", StringComparison.Ordinal));
        }
    }

    private static string[] PresentFields(IMessage message) =>
        message.Descriptor.Fields.InFieldNumberOrder().Where(f => !Equals(f.Accessor.GetValue(message), f.FieldType switch
        {
            Google.Protobuf.Reflection.FieldType.String => "",
            _ => null,
        })).Select(f => f.Name).ToArray();

    [ProviderFact]
    public async Task GetAssignment_OtherSitesParticipant_IsNotFoundLikeAMissingOne()
    {
        await using var server = NewServer(
            ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
             "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"));
        await GenerateAsync(server);
        var reply = await server.Site("UM").RandomizeAsync(Requests.Randomize("SCR-020"));
        var otherSite = server.Site("JH");

        var hidden = await Assert.ThrowsAsync<RpcException>(() => otherSite.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = reply.Assignment.ParticipantId }).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() => otherSite.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = "P-0000000000" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, hidden.StatusCode);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(hidden.Status.Detail.Replace(reply.Assignment.ParticipantId, "", StringComparison.Ordinal),
            missing.Status.Detail.Replace("P-0000000000", "", StringComparison.Ordinal));
    }
}

public sealed class RandomizationTestsOnSqlite : RandomizationTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class RandomizationTestsOnPostgreSql : RandomizationTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class RandomizationTestsOnSqlServer : RandomizationTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
