using System.Text;
using Ori.Sockets.Tests.Generated;

namespace Ori.Sockets.Tests.Unit;

public sealed class TryDeserializeTests
{
    [Theory]
    [InlineData("""{"orderId":"o-1","boxes":3}""", true, null)]
    [InlineData("""{"orderId":"o-1","boxes":11}""", false, "$.boxes")]
    [InlineData("""{"orderId":"o-1","boxes":3} {}""", false, "$")]
    [InlineData("""{"orderId":"o-1",""", false, "$")]
    [InlineData("", false, "$")]
    [InlineData("null", false, "$")]
    public void Whole_documents_are_read_and_validated(string json, bool valid, string? path)
    {
        var ok = OrderShipped.Serializer.TryDeserialize(Encoding.UTF8.GetBytes(json), out var value, out var errors);
        Assert.Equal(valid, ok);
        if (valid)
        {
            Assert.Equal(new OrderShipped("o-1", 3), value);
            Assert.Empty(errors);
        }
        else
        {
            Assert.Null(value);
            Assert.Equal(path, Assert.Single(errors).Path);
        }
    }

    [Fact]
    public void Serialize_writes_what_TryDeserialize_reads()
    {
        var bytes = OrderShipped.Serializer.SerializeToUtf8Bytes(new OrderShipped("o-7", 2));
        Assert.Equal("""{"orderId":"o-7","boxes":2}""", Encoding.UTF8.GetString(bytes));
        Assert.True(OrderShipped.Serializer.TryDeserialize(bytes, out var value, out _));
        Assert.Equal(new OrderShipped("o-7", 2), value);
    }
}
