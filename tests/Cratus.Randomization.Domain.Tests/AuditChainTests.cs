namespace Cratus.Randomization.Domain.Tests;

public sealed class AuditChainTests
{
    private static List<AuditEntry> Chain(int length)
    {
        var events = new List<AuditEntry>();
        var previous = AuditChain.GenesisHash;
        for (var i = 1; i <= length; i++)
        {
            var hash = AuditChain.ComputeHash(i, 1_700_000_000_000 + i, "user", "monitor", "UM", "action", $"target-{i}", "", "", previous);
            events.Add(new AuditEntry(i, 1_700_000_000_000 + i, "user", "monitor", "UM", "action", $"target-{i}", "", "", previous, hash));
            previous = hash;
        }
        return events;
    }

    [Fact]
    public void Verify_UntouchedChain_IsIntactWithItsHead()
    {
        var chain = Chain(5);

        var result = AuditChain.Verify(chain, null);

        Assert.True(result.Intact);
        Assert.Equal(new AuditHead(5, chain[^1].Hash), result.Head);
    }

    [Fact]
    public void Verify_EmptyTrail_IsIntactWithoutHead()
    {
        var result = AuditChain.Verify([], null);

        Assert.True(result.Intact);
        Assert.Null(result.Head);
    }

    [Fact]
    public void ComputeHash_FieldBoundaries_CannotBeShiftedBetweenFields()
    {
        var a = AuditChain.ComputeHash(1, 1, "ab", "c", "", "x", "", "", "", AuditChain.GenesisHash);
        var b = AuditChain.ComputeHash(1, 1, "a", "bc", "", "x", "", "", "", AuditChain.GenesisHash);

        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Verify_ChangedField_BreaksAtThatEvent()
    {
        var chain = Chain(5);
        chain[2] = chain[2] with { Target = "forged" };

        var result = AuditChain.Verify(chain, null);

        Assert.False(result.Intact);
        Assert.Equal(3, result.FirstBrokenSequence);
        Assert.Equal(new AuditHead(2, chain[1].Hash), result.Head);
    }

    [Fact]
    public void Verify_ExpectedHeadBeyondTheEnd_ReportsRemovedEvents()
    {
        var chain = Chain(5);

        var result = AuditChain.Verify(chain.Take(3), new AuditHead(5, chain[^1].Hash));

        Assert.False(result.Intact);
        Assert.False(result.ExtendsExpectedHead);
    }
}
