using System.Reflection;
using Ori.Sockets.Generators.Emitting;

namespace Ori.Sockets.Generators.Tests;

public sealed class ContractsEmitterTests
{
    [Fact]
    public void The_AsyncAPI_error_reply_lists_exactly_the_protocols_error_codes()
    {
        var codes = typeof(SocketErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .Order(StringComparer.Ordinal);
        Assert.Equal(codes, AsyncApiEmitter.ErrorCodes.Order(StringComparer.Ordinal));
    }
}
