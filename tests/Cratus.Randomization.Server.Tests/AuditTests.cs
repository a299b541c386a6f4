using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Tests;

public abstract class AuditTests : OnEachDatabase
{
    private async Task<TrialServer> ServerWithActivityAsync()
    {
        var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial schedule" });
        var site = server.Site();
        for (var i = 0; i < 4; i++)
        {
            var reply = await site.RandomizeAsync(Requests.Randomize($"SCR-{i}"));
            await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId });
        }
        return server;
    }

    private static AuditService.AuditServiceClient Audit(TrialServer server, TrialRole role = TrialRole.Monitor) => new(server.Channel(role));

    private static async Task ExecuteAsync(TrialServer server, string sql) => Assert.True(await server.ExecuteSqlAsync(sql) > 0, sql);

    [ProviderFact]
    public async Task Activity_IsRecordedAttributablyAndTheChainVerifies()
    {
        await using var server = await ServerWithActivityAsync();

        var events = (await Audit(server).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        var verification = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        // The statistician re-authenticates to sign the schedule's generation, then generates it.
        Assert.Equal(["signature.reauthenticated", "schedule.generated", .. Enumerable.Repeat(new[] { "participant.randomized", "dose_order.read" }, 4).SelectMany(x => x)],
            events.Select(e => e.Action));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), events.Select(e => e.Sequence));
        events.RemoveAt(0);
        var randomized = events[1];
        Assert.Equal("SiteCoordinator-UM", randomized.User);
        Assert.Equal("site_coordinator", randomized.Role);
        Assert.Equal("UM", randomized.Site);
        Assert.Equal("initial schedule", events[0].Reason);
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(10, verification.Head.Sequence);
        Assert.Equal(events[^1].Hash, verification.Head.Hash);
        foreach (var e in events)
        {
            Assert.DoesNotContain("placebo", e.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", e.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(@"(?i)\barm\b|\b[ABC]\b", e.Details);
        }
    }

    [ProviderFact]
    public async Task ListAuditEvents_FilterAndPages_ReturnEachMatchingEventOnce()
    {
        await using var server = await ServerWithActivityAsync();

        var first = await Audit(server, TrialRole.Statistician).ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dose_order.read", PageSize = 3 });
        var second = await Audit(server, TrialRole.Statistician).ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dose_order.read", PageSize = 3, PageToken = first.NextPageToken });

        Assert.Equal(3, first.Events.Count);
        Assert.Single(second.Events);
        Assert.Empty(second.NextPageToken);
        Assert.All(first.Events.Concat(second.Events), e => Assert.Equal("pharmacist", e.Role));
    }

    public static TheoryData<string, string, long> Tampering => new()
    {
        { "edit", """UPDATE "AuditEvents" SET "User" = 'someone-else' WHERE "Sequence" = 4""", 4 },
        { "delete", """DELETE FROM "AuditEvents" WHERE "Sequence" = 5""", 5 },
        { "reorder", """UPDATE "AuditEvents" SET "Sequence" = -6 WHERE "Sequence" = 6; UPDATE "AuditEvents" SET "Sequence" = 6 WHERE "Sequence" = 7; UPDATE "AuditEvents" SET "Sequence" = 7 WHERE "Sequence" = -6""", 6 },
        { "edit the hash too", """UPDATE "AuditEvents" SET "Details" = 'x', "Hash" = '""" + new string('a', 64) + """' WHERE "Sequence" = 3""", 3 },
    };

    [ProviderTheory]
    [MemberData(nameof(Tampering))]
    public async Task VerifyAuditTrail_RowChangedInTheDatabaseFile_ReportsTheFirstBrokenLink(string tampering, string sql, long expectedBroken)
    {
        await using var server = await ServerWithActivityAsync();
        await ExecuteAsync(server, sql);

        var result = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        Assert.False(result.Intact, tampering);
        Assert.Equal(expectedBroken, result.FirstBrokenSequence);
        Assert.NotEmpty(result.Problem);
    }

    [ProviderFact]
    public async Task VerifyAuditTrail_TailTruncatedBelowARecordedHead_IsDetected()
    {
        await using var server = await ServerWithActivityAsync();
        var head = (await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Head;
        await ExecuteAsync(server, """DELETE FROM "AuditEvents" WHERE "Sequence" >= 8""");

        var plain = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var anchored = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest { ExpectedHead = head });

        Assert.True(plain.Intact); // what is left is a valid chain: only the recorded head shows the loss
        Assert.False(anchored.Intact);
        Assert.False(anchored.ExtendsExpectedHead);
        Assert.Contains("removed", anchored.Problem, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task VerifyAuditTrail_RecordedHeadStillInTheTrail_ExtendsIt()
    {
        await using var server = await ServerWithActivityAsync();
        var head = (await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Head;
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-LATER"));

        var result = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest { ExpectedHead = head });

        Assert.True(result.Intact, result.Problem);
        Assert.True(result.ExtendsExpectedHead);
        Assert.Equal(head.Sequence + 1, result.Head.Sequence);
    }

    [ProviderFact]
    public async Task VerifyAuditTrail_WholeChainRewrittenConsistently_IsCaughtByTheRecordedHead()
    {
        await using var server = await ServerWithActivityAsync();
        var head = (await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Head;
        // Rewrite event 2 and recompute every hash after it, as a careful forger with database access would.
        var rows = await server.QueryAsync("""SELECT "Sequence", "OccurredAtUnixMilliseconds", "User", "Role", "Site", "Action", "Target", "Reason", "Details" FROM "AuditEvents" ORDER BY "Sequence" """);
        var previous = Domain.AuditChain.GenesisHash;
        foreach (var r in rows)
        {
            var sequence = Convert.ToInt64(r[0], System.Globalization.CultureInfo.InvariantCulture);
            var user = sequence == 2 ? "forger" : (string)r[2]!;
            var hash = Domain.AuditChain.ComputeHash(sequence, Convert.ToInt64(r[1], System.Globalization.CultureInfo.InvariantCulture), user,
                (string)r[3]!, (string)r[4]!, (string)r[5]!, (string)r[6]!, (string)r[7]!, (string)r[8]!, previous);
            await ExecuteAsync(server, $"""UPDATE "AuditEvents" SET "User" = '{user}', "PreviousHash" = '{previous}', "Hash" = '{hash}' WHERE "Sequence" = {sequence}""");
            previous = hash;
        }

        var plain = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var anchored = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest { ExpectedHead = head });

        // The chain is keyed: without the key, the first rewritten event is named even with no head recorded.
        Assert.False(plain.Intact);
        Assert.Equal(2, plain.FirstBrokenSequence);
        Assert.Contains("forged or altered", plain.Problem, StringComparison.Ordinal);
        Assert.Null(plain.HeadSignature);
        Assert.False(anchored.Intact);
        Assert.Equal(2, anchored.FirstBrokenSequence);
    }

    /// <summary>An event appended after the last one with its SHA-256 computed exactly as the README describes: the
    /// chain of hashes alone accepts it; the keyed chain names it.</summary>
    [ProviderFact]
    public async Task VerifyAuditTrail_EventAppendedWithACorrectSha256_IsNamedAsForged()
    {
        await using var server = await ServerWithActivityAsync();
        var last = (await server.QueryAsync("""SELECT "Sequence", "Hash", "OccurredAtUnixMilliseconds" FROM "AuditEvents" ORDER BY "Sequence" DESC""")).First();
        var sequence = Convert.ToInt64(last[0], System.Globalization.CultureInfo.InvariantCulture) + 1;
        var at = Convert.ToInt64(last[2], System.Globalization.CultureInfo.InvariantCulture) + 1000;
        var previous = (string)last[1]!;
        var canonical = System.Text.Json.JsonSerializer.Serialize(new object[]
        {
            sequence, at, "statistician-2", "statistician", "", "unblinding.approved", "U-FORGED00", "approved by phone", "scope Final", previous,
        });
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical)));
        await ExecuteAsync(server, $"""
            INSERT INTO "AuditEvents" ("Sequence", "OccurredAtUnixMilliseconds", "User", "Role", "Site", "Action", "Target", "Reason", "Details", "PreviousHash", "Hash")
            VALUES ({sequence}, {at}, 'statistician-2', 'statistician', '', 'unblinding.approved', 'U-FORGED00', 'approved by phone', 'scope Final', '{previous}', '{hash}')
            """);

        var result = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        Assert.False(result.Intact, "a forged event with a correct SHA-256 was accepted");
        Assert.Equal(sequence, result.FirstBrokenSequence);
        Assert.Contains($"event {sequence} is forged or altered", result.Problem, StringComparison.Ordinal);
        Assert.Equal(sequence - 1, result.Head.Sequence);
    }

    [ProviderFact]
    public async Task VerifyAuditTrail_EventAppendedWithAMacCopiedFromAnother_IsNamedAsForged()
    {
        await using var server = await ServerWithActivityAsync();
        var last = (await server.QueryAsync("""SELECT "Sequence", "Hash", "KeyId", "Mac" FROM "AuditEvents" ORDER BY "Sequence" DESC""")).First();
        var sequence = Convert.ToInt64(last[0], System.Globalization.CultureInfo.InvariantCulture) + 1;
        var hash = Domain.AuditChain.ComputeHash(sequence, 1, "forger", "monitor", "", "dose_order.read", "P-XXXXXXXXXX", "", "", (string)last[1]!);
        await ExecuteAsync(server, $"""
            INSERT INTO "AuditEvents" ("Sequence", "OccurredAtUnixMilliseconds", "User", "Role", "Site", "Action", "Target", "Reason", "Details", "PreviousHash", "Hash", "KeyId", "Mac")
            VALUES ({sequence}, 1, 'forger', 'monitor', '', 'dose_order.read', 'P-XXXXXXXXXX', '', '', '{last[1]}', '{hash}', '{last[2]}', '{last[3]}')
            """);

        var result = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        Assert.False(result.Intact);
        Assert.Equal(sequence, result.FirstBrokenSequence);
        Assert.Contains("forged or altered", result.Problem, StringComparison.Ordinal);
    }

    /// <summary>The head a monitor records is signed; the signature checks with the published public key alone.</summary>
    [ProviderFact]
    public async Task VerifyAuditTrail_SignedHead_ChecksOfflineWithThePublicKeyOnly()
    {
        await using var server = await ServerWithActivityAsync();

        var result = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        var signed = result.HeadSignature;
        Assert.NotNull(signed);
        Assert.Equal($"cratus-audit-head-v1\ntrial:CRATUS\nsequence:{result.Head.Sequence}\nhash:{result.Head.Hash}\n", signed.Statement);
        using var publicKey = System.Security.Cryptography.ECDsa.Create();
        publicKey.ImportFromPem(signed.PublicKeyPem);
        Assert.Throws<System.Security.Cryptography.CryptographicException>(() => publicKey.ExportParameters(includePrivateParameters: true));
        using var configured = System.Security.Cryptography.ECDsa.Create();
        configured.ImportPkcs8PrivateKey(Convert.FromBase64String(server.HeadSigningKey), out _);
        Assert.Equal(configured.ExportSubjectPublicKeyInfo(), publicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(publicKey.ExportSubjectPublicKeyInfo()))[..16], signed.KeyId);
        bool Verifies(string statement) => publicKey.VerifyData(System.Text.Encoding.UTF8.GetBytes(statement), signed.Signature.ToByteArray(),
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence);
        Assert.True(Verifies(signed.Statement));
        Assert.False(Verifies(signed.Statement.Replace($"sequence:{result.Head.Sequence}", $"sequence:{result.Head.Sequence + 1}", StringComparison.Ordinal)));
    }
}

public sealed class AuditTestsOnSqlite : AuditTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class AuditTestsOnPostgreSql : AuditTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class AuditTestsOnSqlServer : AuditTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
