namespace Ori.Sockets.Tests.Unit;

public sealed class ValidationContextTests
{
    [Fact]
    public void Paths_combine_members_indexes_and_bracketed_names()
    {
        var context = new SocketValidationContext("$.data");
        context.PushProperty("items");
        context.PushIndex(2);
        context.AddError("name", "bad");
        context.PushProperty("odd key.with'dot");
        context.AddError("worse");
        context.Pop();
        context.Pop();
        context.Pop();
        context.AddError("root");
        Assert.Equal(["$.data.items[2].name", "$.data.items[2]['odd key.with\\'dot']", "$.data"], context.Errors.Select(e => e.Path));
    }

    [Fact]
    public void Reset_forgets_errors_and_segments()
    {
        var context = new SocketValidationContext();
        context.PushProperty("a");
        context.AddError("x");
        context.Reset("$.data");
        Assert.False(context.HasErrors);
        context.AddError("y");
        Assert.Equal("$.data", context.Errors.Single().Path);
    }

    [Fact]
    public void Pop_without_push_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new SocketValidationContext().Pop());
    }
}
