namespace Cratus.Randomization.Domain.Tests;

public sealed class ReasonsTests
{
    [Theory]
    [InlineData("  participant hospitalised; treating physician needs the arm  ", "participant hospitalised; treating physician needs the arm")]
    [InlineData("line one\r\nline two\twith a tab", "line one\r\nline two\twith a tab")]
    public void Require_PlainText_IsKeptTrimmed(string reason, string kept) => Assert.Equal(kept, Reasons.Require(reason));

    [Theory]
    [InlineData(null)]
    [InlineData("   ")]
    [InlineData("with a NUL \0 inside")]
    [InlineData("with an escape \u001b[31m inside")]
    public void Require_MissingOrWithControlCharacters_IsInvalidArgument(string? reason)
    {
        var error = Assert.Throws<TrialRuleException>(() => Reasons.Require(reason));
        Assert.Equal(TrialFault.InvalidArgument, error.Fault);
    }

    [Fact]
    public void Require_OverTheLimit_IsInvalidArgument() =>
        Assert.Equal(TrialFault.InvalidArgument, Assert.Throws<TrialRuleException>(() => Reasons.Require(new string('x', Reasons.MaxLength + 1))).Fault);
}
