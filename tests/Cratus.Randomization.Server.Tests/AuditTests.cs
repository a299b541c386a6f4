using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Data.Sqlite;

namespace Cratus.Randomization.Server.Tests;

public sealed class AuditTests
{
    private static async Task<TrialServer> ServerWithActivityAsync()
    {
        var server = new TrialServer();
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

    private static async Task ExecuteAsync(TrialServer server, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={server.DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.True(await command.ExecuteNonQueryAsync() > 0, sql);
    }

    [Fact]
    public async Task Activity_IsRecordedAttributablyAndTheChainVerifies()
    {
        await using var server = await ServerWithActivityAsync();

        var events = (await Audit(server).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        var verification = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());

        Assert.Equal(["schedule.generated", .. Enumerable.Repeat(new[] { "participant.randomized", "dose_order.read" }, 4).SelectMany(x => x)], events.Select(e => e.Action));
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), events.Select(e => e.Sequence));
        var randomized = events[1];
        Assert.Equal("SiteCoordinator-user", randomized.User);
        Assert.Equal("site_coordinator", randomized.Role);
        Assert.Equal("UM", randomized.Site);
        Assert.Equal("initial schedule", events[0].Reason);
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(9, verification.Head.Sequence);
        Assert.Equal(events[^1].Hash, verification.Head.Hash);
        foreach (var e in events)
        {
            Assert.DoesNotContain("placebo", e.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", e.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("arm", e.Details, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
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
        { "edit", "UPDATE AuditEvents SET User = 'someone-else' WHERE Sequence = 4", 4 },
        { "delete", "DELETE FROM AuditEvents WHERE Sequence = 5", 5 },
        { "reorder", "UPDATE AuditEvents SET Sequence = -6 WHERE Sequence = 6; UPDATE AuditEvents SET Sequence = 6 WHERE Sequence = 7; UPDATE AuditEvents SET Sequence = 7 WHERE Sequence = -6", 6 },
        { "edit the hash too", "UPDATE AuditEvents SET Details = 'x', Hash = '" + new string('a', 64) + "' WHERE Sequence = 3", 3 },
    };

    [Theory]
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

    [Fact]
    public async Task VerifyAuditTrail_TailTruncatedBelowARecordedHead_IsDetected()
    {
        await using var server = await ServerWithActivityAsync();
        var head = (await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Head;
        await ExecuteAsync(server, "DELETE FROM AuditEvents WHERE Sequence >= 8");

        var plain = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var anchored = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest { ExpectedHead = head });

        Assert.True(plain.Intact); // what is left is a valid chain: only the recorded head shows the loss
        Assert.False(anchored.Intact);
        Assert.False(anchored.ExtendsExpectedHead);
        Assert.Contains("removed", anchored.Problem, StringComparison.Ordinal);
    }

    [Fact]
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

    [Fact]
    public async Task VerifyAuditTrail_WholeChainRewrittenConsistently_IsCaughtByTheRecordedHead()
    {
        await using var server = await ServerWithActivityAsync();
        var head = (await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Head;
        // Rewrite event 2 and recompute every hash after it, as a careful forger with database access would.
        await using (var connection = new SqliteConnection($"Data Source={server.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            var rows = new List<object[]>();
            await using (var read = connection.CreateCommand())
            {
                read.CommandText = "SELECT Sequence, OccurredAtUnixMilliseconds, User, Role, Site, Action, Target, Reason, Details FROM AuditEvents ORDER BY Sequence";
                await using var reader = await read.ExecuteReaderAsync();
                while (await reader.ReadAsync()) { var r = new object[9]; reader.GetValues(r); rows.Add(r); }
            }
            var previous = Domain.AuditChain.GenesisHash;
            foreach (var r in rows)
            {
                var user = (long)r[0] == 2 ? "forger" : (string)r[2];
                var hash = Domain.AuditChain.ComputeHash((long)r[0], (long)r[1], user, (string)r[3], (string)r[4], (string)r[5], (string)r[6], (string)r[7], (string)r[8], previous);
                await using var write = connection.CreateCommand();
                write.CommandText = "UPDATE AuditEvents SET User = $u, PreviousHash = $p, Hash = $h WHERE Sequence = $s";
                write.Parameters.AddWithValue("$u", user);
                write.Parameters.AddWithValue("$p", previous);
                write.Parameters.AddWithValue("$h", hash);
                write.Parameters.AddWithValue("$s", r[0]);
                await write.ExecuteNonQueryAsync();
                previous = hash;
            }
        }

        var plain = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        var anchored = await Audit(server).VerifyAuditTrailAsync(new VerifyAuditTrailRequest { ExpectedHead = head });

        Assert.True(plain.Intact);
        Assert.False(anchored.Intact);
        Assert.Contains("rewritten", anchored.Problem, StringComparison.Ordinal);
    }
}
